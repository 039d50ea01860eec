//! `check`: what the store holds that this program could not decode.

use serde::Serialize;

use super::{Operations, OpsError};
use crate::registry::Undecodable;
use crate::store::StoredEventType;

/// One stored event name and version this program cannot decode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckProblem {
    /// The name, version and count as stored.
    #[serde(flatten)]
    pub stored: StoredEventType,
    /// Why it does not decode.
    pub problem: Undecodable,
    /// What it means, in words.
    pub message: String,
    /// The aggregates, projections and sagas of this program that read
    /// events of that name (`kind name`); empty when none does.
    pub read_by: Vec<String>,
}

/// The outcome of [`Operations::check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    /// How many distinct names and versions the store holds.
    pub scanned: usize,
    /// How many events they cover.
    pub events: u64,
    /// Every name and version this program cannot decode.
    pub problems: Vec<CheckProblem>,
}

impl CheckReport {
    /// Whether this program decodes everything stored.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Operations {
    /// Scans the store for every distinct event name and schema version and
    /// reports each this program could not decode: a name no event type
    /// has (nor as an alias), a version below the current one with a
    /// missing upcaster, a version newer than the program knows. Run it
    /// with a new release's binary against production's store before
    /// deploying it.
    pub async fn check(&self) -> Result<CheckReport, OpsError> {
        let types = self.store.event_types().await?;
        let parts = self.registry.parts();
        let mut problems = Vec::new();
        for stored in &types {
            let Err(problem) = self
                .registry
                .decodable(&stored.event_name, stored.schema_version)
            else {
                continue;
            };
            let canonical = self
                .registry
                .event(&stored.event_name)
                .map_or(stored.event_name.as_str(), |e| e.name);
            let reads = |events: &[&str]| events.contains(&canonical);
            let read_by = parts
                .aggregates
                .iter()
                .filter(|a| reads(a.events))
                .map(|a| format!("aggregate {}", a.name))
                .chain(
                    parts
                        .projections
                        .iter()
                        .filter(|p| reads(p.events))
                        .map(|p| format!("projection {}", p.name)),
                )
                .chain(
                    parts
                        .sagas
                        .iter()
                        .filter(|s| reads(s.events))
                        .map(|s| format!("saga {}", s.name)),
                )
                .collect();
            problems.push(CheckProblem {
                stored: stored.clone(),
                message: problem.to_string(),
                problem,
                read_by,
            });
        }
        Ok(CheckReport {
            scanned: types.len(),
            events: types.iter().map(|t| t.count).sum(),
            problems,
        })
    }
}
