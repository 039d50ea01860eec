//! The second drift check: stored payloads validated against the JSON
//! Schema of the version they were recorded at, on any store.
//!
//! The schema of a version comes from the code (the event type for the
//! current version, a typed upcaster's input for an older one) and, for the
//! versions the code no longer describes, from the schema lock. A payload
//! of a version with no known schema is counted as unchecked, not failed.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use eventsource::memory::InMemoryStore;
//! use eventsource::registry::{Catalogue, PayloadCheck, Registry, Sampling};
//!
//! let store = InMemoryStore::new();
//! let check = PayloadCheck::new(&Catalogue::of(Registry::global()), None)
//!     .expect("valid schemas");
//! let report = check.run(&store, Sampling::All).await.expect("the store answers");
//! assert!(report.is_clean());
//! # });
//! ```

use std::collections::HashMap;

use futures::StreamExt;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use super::catalogue::Catalogue;
use super::lock::SchemaLock;
use crate::store::{EventFilter, EventStore, StoreError};

/// Which stored events to validate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// Every event.
    All,
    /// One event in `n`, by position in the log (the first, the
    /// `n + 1`-th, ...): the same events on every run.
    OneIn(u64),
}

/// A stored payload that does not match its version's schema.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PayloadProblem {
    /// Its position in the global log.
    pub global_position: u64,
    /// Its stream.
    pub stream_id: String,
    /// The name it is stored under.
    pub event_name: String,
    /// The version it was recorded at.
    pub schema_version: u32,
    /// What is wrong, one line per mismatch.
    pub errors: Vec<String>,
}

/// What validating the store found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PayloadReport {
    /// Payloads validated.
    pub checked: u64,
    /// Payloads sampled whose version has no known schema (or whose event
    /// is not registered).
    pub unchecked: u64,
    /// The payloads that failed.
    pub problems: Vec<PayloadProblem>,
}

impl PayloadReport {
    /// Whether no checked payload failed.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl std::fmt::Display for PayloadReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for p in &self.problems {
            writeln!(
                f,
                "event `{}` version {} at position {} (stream `{}`): {}",
                p.event_name,
                p.schema_version,
                p.global_position,
                p.stream_id,
                p.errors.join("; ")
            )?;
        }
        writeln!(
            f,
            "{} payloads checked, {} without a known schema, {} failed",
            self.checked,
            self.unchecked,
            self.problems.len()
        )
    }
}

/// A schema that cannot be compiled into a validator.
#[derive(Debug, Error)]
#[error("the schema of event `{event}` version {version} is not a valid JSON Schema: {reason}")]
pub struct InvalidSchema {
    /// The event.
    pub event: String,
    /// The version.
    pub version: u32,
    /// What the validator said.
    pub reason: String,
}

/// Validators for every known version of every event.
#[derive(Debug)]
pub struct PayloadCheck {
    /// Stored name (current or alias) to current name.
    names: HashMap<String, String>,
    validators: HashMap<(String, u32), jsonschema::Validator>,
}

impl PayloadCheck {
    /// The validators of `catalogue`'s schemas and, for the versions it has
    /// none of, those recorded in `lock`.
    pub fn new(catalogue: &Catalogue, lock: Option<&SchemaLock>) -> Result<Self, InvalidSchema> {
        let mut names = HashMap::new();
        let mut schemas: HashMap<(String, u32), &Value> = HashMap::new();
        for event in &catalogue.events {
            names.insert(event.name.clone(), event.name.clone());
            for alias in &event.aliases {
                names.insert(alias.clone(), event.name.clone());
            }
            for version in &event.versions {
                if let Some(schema) = &version.schema {
                    schemas.insert((event.name.clone(), version.version), schema);
                }
            }
        }
        if let Some(lock) = lock {
            for (name, locked) in &lock.events {
                let current = names.get(name).cloned().unwrap_or_else(|| name.clone());
                names.entry(name.clone()).or_insert_with(|| name.clone());
                for (version, schema) in &locked.versions {
                    schemas.entry((current.clone(), *version)).or_insert(schema);
                }
            }
        }
        let mut validators = HashMap::new();
        for ((event, version), schema) in schemas {
            let validator = jsonschema::validator_for(schema).map_err(|e| InvalidSchema {
                event: event.clone(),
                version,
                reason: e.to_string(),
            })?;
            validators.insert((event, version), validator);
        }
        Ok(Self { names, validators })
    }

    /// Validates the payloads `sampling` selects, reading the store's log
    /// from the start to its head as of the call.
    pub async fn run<S: EventStore + ?Sized>(
        &self,
        store: &S,
        sampling: Sampling,
    ) -> Result<PayloadReport, StoreError> {
        let mut report = PayloadReport::default();
        let mut events = store.read_all(0, EventFilter::default());
        let mut seen: u64 = 0;
        while let Some(event) = events.next().await {
            let event = event?;
            seen += 1;
            if let Sampling::OneIn(n) = sampling {
                if n > 1 && (seen - 1) % n != 0 {
                    continue;
                }
            }
            let validator = self
                .names
                .get(&*event.event_name)
                .and_then(|name| self.validators.get(&(name.clone(), event.schema_version)));
            let Some(validator) = validator else {
                report.unchecked += 1;
                continue;
            };
            report.checked += 1;
            let errors = match serde_json::from_str::<Value>(&event.payload) {
                Ok(payload) => validator
                    .iter_errors(&payload)
                    .map(|e| {
                        let at = e.instance_path().to_string();
                        if at.is_empty() {
                            e.to_string()
                        } else {
                            format!("at {at}: {e}")
                        }
                    })
                    .collect(),
                Err(e) => vec![format!("the payload is not JSON: {e}")],
            };
            if !errors.is_empty() {
                report.problems.push(PayloadProblem {
                    global_position: event.global_position,
                    stream_id: event.stream_id.to_string(),
                    event_name: event.event_name.to_string(),
                    schema_version: event.schema_version,
                    errors,
                });
            }
        }
        Ok(report)
    }
}
