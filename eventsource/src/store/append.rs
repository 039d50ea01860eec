//! What an append expects of its stream, and where it put the events.

use std::fmt;

/// The version an append expects its stream to be at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// No check: append after whatever is there.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must exist and its last event must have this version.
    Exact(u64),
}

impl ExpectedVersion {
    /// Whether a stream currently at `actual` (`None`: absent) satisfies this expectation.
    pub fn is_satisfied_by(self, actual: Option<u64>) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => actual.is_none(),
            Self::Exact(v) => actual == Some(v),
        }
    }

    /// The expectation matching a stream read at `version` (`None`: absent).
    pub fn from_current(version: Option<u64>) -> Self {
        version.map_or(Self::NoStream, Self::Exact)
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any version"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Where an append put its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// The stream version of the first appended event.
    pub first_version: u64,
    /// The stream version of the last appended event: the stream's new version.
    pub last_version: u64,
    /// The global position of the first appended event.
    pub first_position: u64,
    /// The global position of the last appended event.
    pub last_position: u64,
    /// `true` when every event id was already stored as this same batch, so
    /// nothing new was written (a retried append after a lost reply).
    pub replayed: bool,
}
