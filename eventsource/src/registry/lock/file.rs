//! The lock file: its format, reading and writing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use super::report::LockReport;

/// The lock file's format version.
pub(super) const FORMAT: u32 = 1;

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
}
