//! What the archive and truncation jobs, and the export, report when they fail.

use std::path::PathBuf;

use thiserror::Error;

use crate::error::Error;
use crate::store::StoreError;

/// A failure of an archive job, a truncation job or an export.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ArchiveError {
    /// No stream matches the policy: nothing was done. A policy that
    /// matches streams already archived is not this (it succeeds, moving
    /// nothing); this says the policy itself selects nothing.
    #[error(
        "no stream of aggregate type `{aggregate_type}` has its last event older than {older_than_secs} s{}: nothing to archive",
        if *.closed_only { " and is closed" } else { "" }
    )]
    NothingMatches {
        /// The policy's aggregate type.
        aggregate_type: String,
        /// The policy's age, in seconds.
        older_than_secs: u64,
        /// Whether the policy also asked the aggregates whether they are closed.
        closed_only: bool,
    },
    /// No stream of the truncation policy's type has a snapshot to keep as
    /// the new baseline: nothing was removed.
    #[error(
        "no stream of aggregate type `{aggregate_type}` has a snapshot to truncate behind: nothing to truncate"
    )]
    NoBaseline {
        /// The policy's aggregate type.
        aggregate_type: String,
    },
    /// The policy is not usable as given.
    #[error("invalid policy: {0}")]
    InvalidPolicy(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Loading an aggregate (to ask whether it is closed) failed.
    #[error("loading `{stream_id}` to ask whether it is closed failed: {source}")]
    Load {
        /// The stream.
        stream_id: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// Reading or writing an export file failed.
    #[error("export file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An export's manifest or one of its files does not hold what it should.
    #[error("export {path} is not valid: {reason}")]
    InvalidExport {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}
