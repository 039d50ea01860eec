//! Why an operation failed.

use thiserror::Error;
use uuid::Uuid;

use crate::archive::ArchiveError;
use crate::projection::ControlRequest;
use crate::store::StoreError;

/// Why an operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OpsError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No projection or saga of that name is known, to this program or to
    /// the store.
    #[error("no projection or saga named `{name}`{}", known_list(.known))]
    UnknownProjection {
        /// The name asked for.
        name: String,
        /// The names known.
        known: Vec<String>,
    },
    /// No saga of that name.
    #[error("no saga named `{name}`{}", known_list(.known))]
    UnknownSaga {
        /// The name asked for.
        name: String,
        /// The sagas known.
        known: Vec<String>,
    },
    /// No such stream, event, instance or request.
    #[error("{0} not found")]
    NotFound(String),
    /// This application's operations have no such part (no saga store, no
    /// migrations on an in-memory store).
    #[error("{0}")]
    Unavailable(String),
    /// No owner carried the request out in time. A one-shot request
    /// (rebuild, reset, retry) still pending was cancelled; a pause or
    /// resume stays recorded and applies when an owner starts.
    #[error("{}", timeout_message(.request))]
    Timeout {
        /// The request as it stood.
        request: Box<ControlRequest>,
    },
    /// The owner could not carry the request out.
    #[error("the owner of `{}` could not {}: {}", .request.projection, .request.command, .request.outcome.as_deref().unwrap_or("no reason given"))]
    Refused {
        /// The request, failed.
        request: Box<ControlRequest>,
    },
    /// A request was cancelled by someone else before an owner took it up.
    #[error("request {0} was cancelled before an owner took it up")]
    Cancelled(Uuid),
    /// An argument is not usable.
    #[error("{0}")]
    Invalid(String),
    /// An archive job, a truncation by policy or an export failed, or
    /// found nothing to do ([`ArchiveError::NothingMatches`]).
    #[error(transparent)]
    Archive(ArchiveError),
}

impl OpsError {
    /// Whether the error says something was not found (a policy that
    /// matches no stream among them).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::NotFound(_)
                | Self::UnknownProjection { .. }
                | Self::UnknownSaga { .. }
                | Self::Archive(
                    ArchiveError::NothingMatches { .. } | ArchiveError::NoBaseline { .. }
                )
        )
    }
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        String::new()
    } else {
        format!(" (known: {})", known.join(", "))
    }
}

fn timeout_message(request: &ControlRequest) -> String {
    let command = request.command;
    if command.is_pause_state() {
        format!(
            "no instance owning `{}` acknowledged `{command}` in time; the request stays recorded (id {}) and applies when an owner starts",
            request.projection, request.id
        )
    } else {
        format!(
            "no instance owning `{}` carried out `{command}` in time (it was {}); request {} was cancelled if still pending",
            request.projection, request.status, request.id
        )
    }
}
