//! What comparing the code with the lock found.

use std::fmt;

use serde::Serialize;

/// One difference between the code and the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LockChange {
    /// A recorded version's schema changed in a way stored payloads may
    /// not survive.
    Breaking {
        /// The event.
        event: String,
        /// The version.
        version: u32,
        /// The current version, to tell the next one.
        current: u32,
        /// What changed.
        change: String,
    },
    /// An event in the lock is no longer registered.
    Removed {
        /// The event.
        event: String,
    },
    /// The current version is lower than the one recorded.
    VersionLowered {
        /// The event.
        event: String,
        /// The version recorded.
        recorded: u32,
        /// The version in the code.
        current: u32,
    },
    /// A recorded version's schema changed compatibly.
    Compatible {
        /// The event.
        event: String,
        /// The version.
        version: u32,
    },
    /// A version (or a whole event) the lock does not record yet.
    Added {
        /// The event.
        event: String,
        /// The version.
        version: u32,
    },
    /// An event recorded under an earlier name, now one of its aliases.
    Renamed {
        /// The name in the lock.
        from: String,
        /// The current name.
        to: String,
    },
    /// An event whose current version has no schema: it is not checked.
    NoSchema {
        /// The event.
        event: String,
    },
}

impl LockChange {
    /// Whether the change breaks payloads already stored.
    pub fn is_breaking(&self) -> bool {
        matches!(
            self,
            Self::Breaking { .. } | Self::Removed { .. } | Self::VersionLowered { .. }
        )
    }

    /// Whether updating the lock would record it.
    pub(super) fn updates_lock(&self) -> bool {
        matches!(
            self,
            Self::Compatible { .. } | Self::Added { .. } | Self::Renamed { .. }
        )
    }
}

impl fmt::Display for LockChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Breaking {
                event,
                version,
                current,
                change,
            } if version < current => write!(
                f,
                "breaking: event `{event}` version {version}: {change}; this older version's schema comes from the input type of the upcaster from version {version} (`#[upcaster(event = \"{event}\", from = {version})]`), which must keep reading the payloads stored at version {version}: restore its shape"
            ),
            Self::Breaking {
                event,
                version,
                current,
                change,
            } => write!(
                f,
                "breaking: event `{event}` version {version}: {change}; stored payloads of version {version} may no longer decode: bump the version (`#[event(name = \"{event}\", version = {next})]`) and add an upcaster from version {current} (`#[upcaster(event = \"{event}\", from = {current})]`)",
                next = current + 1,
            ),
            Self::Removed { event } => write!(
                f,
                "breaking: event `{event}` is in the lock but no longer registered; its stored payloads will not decode: keep the type, or list `{event}` in the `aliases` of the event that replaces it"
            ),
            Self::VersionLowered {
                event,
                recorded,
                current,
            } => write!(
                f,
                "breaking: event `{event}` is at version {current} but the lock records version {recorded}; payloads of version {recorded} may be stored: versions only go up"
            ),
            Self::Compatible { event, version } => write!(
                f,
                "compatible: event `{event}` version {version}: the schema changed without breaking stored payloads"
            ),
            Self::Added { event, version } => {
                write!(
                    f,
                    "new: event `{event}` version {version} is not in the lock yet"
                )
            }
            Self::Renamed { from, to } => write!(
                f,
                "renamed: event `{to}` is recorded under its earlier name `{from}`"
            ),
            Self::NoSchema { event } => write!(
                f,
                "unchecked: event `{event}` has no JSON Schema: derive `schemars::JsonSchema` on its type to check it"
            ),
        }
    }
}

/// What the comparison of the code with the lock found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LockReport {
    /// Every difference, breaking ones first.
    pub changes: Vec<LockChange>,
}

impl LockReport {
    /// Whether any change breaks stored payloads.
    pub fn is_breaking(&self) -> bool {
        self.changes.iter().any(LockChange::is_breaking)
    }

    /// Whether the lock records exactly what the code has (events without
    /// a schema aside).
    pub fn is_up_to_date(&self) -> bool {
        !self
            .changes
            .iter()
            .any(|c| c.is_breaking() || c.updates_lock())
    }
}

impl fmt::Display for LockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for change in &self.changes {
            writeln!(f, "{change}")?;
        }
        if self.is_breaking() {
            writeln!(
                f,
                "the schema lock was not updated: fix the breaking changes first"
            )?;
        } else if !self.is_up_to_date() {
            writeln!(
                f,
                "the schema lock is out of date: record these changes with `registry --update-lock`"
            )?;
        } else {
            writeln!(f, "the schema lock is up to date")?;
        }
        Ok(())
    }
}
