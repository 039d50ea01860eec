//! The schema lock: a file the application commits (`events.lock.json`)
//! recording the JSON Schema of each version of each event, and the check
//! that stops a breaking change to a recorded version from shipping.
//!
//! A stored payload is written once and read for years; the version it
//! carries is the promise of its shape. Changing the shape of a version
//! already recorded — removing or renaming a field, changing its type,
//! adding a required field without a default — breaks that promise for
//! every payload already stored. The check says so and asks for a new
//! version and an upcaster instead. A compatible change (a new optional
//! field, a wider type, a new version) is recorded when the lock is updated.
//!
//! ```
//! use eventsource::registry::{Catalogue, Registry, SchemaLock};
//!
//! let catalogue = Catalogue::of(Registry::global());
//! let lock = SchemaLock::default().updated(&catalogue).expect("nothing recorded yet");
//! assert!(lock.check(&catalogue).is_up_to_date());
//! let text = lock.to_json();
//! assert_eq!(SchemaLock::parse(&text).expect("round trip"), lock);
//! ```

mod check;
mod diff;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use super::catalogue::Catalogue;

pub use check::{LockChange, LockReport};

/// The lock file's format version.
const FORMAT: u32 = 1;

/// What the lock records of one event.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LockedEvent {
    /// The current version when the lock was written.
    pub version: u32,
    /// The schema of each recorded version.
    pub versions: BTreeMap<u32, Value>,
}

/// The recorded schemas of every event, by current name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemaLock {
    /// The file format (1).
    pub format: u32,
    /// The events, by name.
    pub events: BTreeMap<String, LockedEvent>,
}

impl Default for SchemaLock {
    fn default() -> Self {
        Self {
            format: FORMAT,
            events: BTreeMap::new(),
        }
    }
}

/// A lock file that cannot be read, parsed or written, or a lock that
/// cannot be updated.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LockError {
    /// The file does not exist.
    #[error(
        "no schema lock at {}: create it with `registry --update-lock` (or `SchemaLock::write_updated`) and commit it",
        path.display()
    )]
    Missing {
        /// The path looked at.
        path: PathBuf,
    },
    /// Reading or writing the file failed.
    #[error("cannot access the schema lock at {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not a schema lock.
    #[error("the schema lock is not valid: {0}")]
    Parse(#[source] serde_json::Error),
    /// The lock is of a format this version does not read.
    #[error("the schema lock has format {0}; this version reads format {FORMAT}")]
    Format(u32),
    /// The code has breaking changes: the lock is not updated.
    #[error("{0}")]
    Breaking(LockReport),
}

impl SchemaLock {
    /// Parses the text of a lock file.
    pub fn parse(text: &str) -> Result<Self, LockError> {
        let lock: Self = serde_json::from_str(text).map_err(LockError::Parse)?;
        if lock.format != FORMAT {
            return Err(LockError::Format(lock.format));
        }
        Ok(lock)
    }

    /// Reads the lock file at `path`.
    pub fn read(path: &Path) -> Result<Self, LockError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(LockError::Missing {
                path: path.to_owned(),
            }),
            Err(source) => Err(LockError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// The lock as the text of its file: pretty JSON, keys sorted, ending
    /// in a newline, so that it diffs well under version control.
    pub fn to_json(&self) -> String {
        // Maps of strings to JSON values: serializing cannot fail.
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Compares `catalogue` (the code) with this lock.
    pub fn check(&self, catalogue: &Catalogue) -> LockReport {
        check::check(self, catalogue)
    }

    /// This lock with the compatible changes of `catalogue` recorded;
    /// [`LockError::Breaking`] (and nothing recorded) if any change is
    /// breaking. Versions the code no longer describes keep their
    /// recorded schema: the lock is the history.
    pub fn updated(&self, catalogue: &Catalogue) -> Result<Self, LockError> {
        let report = self.check(catalogue);
        if report.is_breaking() {
            return Err(LockError::Breaking(report));
        }
        let mut events = BTreeMap::new();
        for event in &catalogue.events {
            let recorded = std::iter::once(event.name.as_str())
                .chain(event.aliases.iter().map(String::as_str))
                .find_map(|name| self.events.get(name));
            let mut versions = recorded.map(|r| r.versions.clone()).unwrap_or_default();
            for version in &event.versions {
                if let Some(schema) = &version.schema {
                    versions.insert(version.version, schema.clone());
                }
            }
            events.insert(
                event.name.clone(),
                LockedEvent {
                    version: event.version,
                    versions,
                },
            );
        }
        Ok(Self {
            format: FORMAT,
            events,
        })
    }

    /// Checks the lock file at `path` against `catalogue`.
    pub fn check_file(path: &Path, catalogue: &Catalogue) -> Result<LockReport, LockError> {
        Ok(Self::read(path)?.check(catalogue))
    }

    /// Records the compatible changes of `catalogue` in the lock file at
    /// `path` (created if missing); returns what changed.
    pub fn write_updated(path: &Path, catalogue: &Catalogue) -> Result<LockReport, LockError> {
        let lock = match Self::read(path) {
            Ok(lock) => lock,
            Err(LockError::Missing { .. }) => Self::default(),
            Err(e) => return Err(e),
        };
        let report = lock.check(catalogue);
        let updated = lock.updated(catalogue)?;
        std::fs::write(path, updated.to_json()).map_err(|source| LockError::Io {
            path: path.to_owned(),
            source,
        })?;
        Ok(report)
    }
}
