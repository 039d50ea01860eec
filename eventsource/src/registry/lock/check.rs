//! The comparison of the code's schemas with the lock's, and the updates
//! it allows.

use std::collections::BTreeMap;
use std::path::Path;

use super::diff::breaking;
use super::file::{FORMAT, LockError, LockedEvent, SchemaLock};
use super::report::{LockChange, LockReport};
use crate::registry::catalogue::{Catalogue, CatalogueEntry};

impl SchemaLock {
    /// Compares `catalogue` (the code) with this lock.
    pub fn check(&self, catalogue: &Catalogue) -> LockReport {
        check(self, catalogue)
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

fn check(lock: &SchemaLock, catalogue: &Catalogue) -> LockReport {
    let mut changes = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for event in &catalogue.events {
        let recorded = std::iter::once(event.name.as_str())
            .chain(event.aliases.iter().map(String::as_str))
            .find_map(|name| lock.events.get_key_value(name));
        let Some((locked_name, locked)) = recorded else {
            added(event, &mut changes);
            continue;
        };
        seen.push(locked_name);
        if locked_name != &event.name {
            changes.push(LockChange::Renamed {
                from: locked_name.clone(),
                to: event.name.clone(),
            });
        }
        if event.version < locked.version {
            changes.push(LockChange::VersionLowered {
                event: event.name.clone(),
                recorded: locked.version,
                current: event.version,
            });
        }
        if event.schema(event.version).is_none() {
            changes.push(LockChange::NoSchema {
                event: event.name.clone(),
            });
        }
        for version in &event.versions {
            let Some(schema) = &version.schema else {
                continue;
            };
            match locked.versions.get(&version.version) {
                None => changes.push(LockChange::Added {
                    event: event.name.clone(),
                    version: version.version,
                }),
                Some(old) if old == schema => {}
                Some(old) => {
                    let found = breaking(old, schema);
                    if found.is_empty() {
                        changes.push(LockChange::Compatible {
                            event: event.name.clone(),
                            version: version.version,
                        });
                    }
                    changes.extend(found.into_iter().map(|change| LockChange::Breaking {
                        event: event.name.clone(),
                        version: version.version,
                        current: event.version,
                        change,
                    }));
                }
            }
        }
    }
    for name in lock.events.keys() {
        if !seen.contains(&name.as_str()) {
            changes.push(LockChange::Removed {
                event: name.clone(),
            });
        }
    }
    // Stable order: breaking first, then as found.
    changes.sort_by_key(|c| !c.is_breaking());
    LockReport { changes }
}

fn added(event: &CatalogueEntry, changes: &mut Vec<LockChange>) {
    if event.schema(event.version).is_none() {
        changes.push(LockChange::NoSchema {
            event: event.name.clone(),
        });
    }
    for version in event.versions.iter().filter(|v| v.schema.is_some()) {
        changes.push(LockChange::Added {
            event: event.name.clone(),
            version: version.version,
        });
    }
}
