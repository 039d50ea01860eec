//! Ending a stream's life, for operators: delete (soft or hard), recreate,
//! truncate before a version (see `store::lifecycle` for the rules).

use serde::Serialize;

use super::{Operations, OpsError};
use crate::store::{DeleteMode, Deletion, StoreError, Truncation};

/// What a lifecycle operation did, as shown to an operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LifecycleReport {
    /// The stream.
    pub stream_id: String,
    /// `delete`, `recreate` or `truncate`.
    pub operation: &'static str,
    /// For a delete: soft or hard.
    pub mode: Option<DeleteMode>,
    /// For a delete: the tombstone's version and global position.
    pub tombstone: Option<(u64, u64)>,
    /// For a truncation: the first version kept.
    pub first_kept_version: Option<u64>,
    /// How many events were removed.
    pub removed: u64,
}

/// A store's refusal as an operator error: a missing stream is "not found",
/// a refused request is a bad argument, anything else a store failure.
fn refusal(error: StoreError) -> OpsError {
    match error {
        StoreError::StreamNotFound { stream_id } => {
            OpsError::NotFound(format!("stream `{stream_id}`"))
        }
        e @ (StoreError::StreamDeleted { .. }
        | StoreError::StreamNotDeleted { .. }
        | StoreError::TruncateBeyondHead { .. }) => OpsError::Invalid(e.to_string()),
        StoreError::Unsupported { operation } => {
            OpsError::Unavailable(format!("this store does not support {operation}"))
        }
        other => OpsError::Store(other),
    }
}

impl Operations {
    /// Destroys the key of crypto-shredding subject `subject` (see
    /// `shredding`): its personal data reads as the declared replacements
    /// from then on. `true` if it had a key. Rebuild the projections that
    /// hold its personal data afterwards.
    pub async fn forget_subject(&self, subject: &str) -> Result<bool, OpsError> {
        let Some(keys) = &self.keys else {
            return Err(OpsError::Unavailable(
                "this application keeps no keys of personal data".to_owned(),
            ));
        };
        if subject.is_empty() {
            return Err(OpsError::Invalid("the subject is empty".to_owned()));
        }
        Ok(keys.forget(subject).await?)
    }

    /// Deletes stream `stream_id` (see
    /// [`EventStore::delete_stream`](crate::store::EventStore::delete_stream)).
    pub async fn delete_stream(
        &self,
        stream_id: &str,
        mode: DeleteMode,
    ) -> Result<LifecycleReport, OpsError> {
        let Deletion {
            mode,
            tombstone_version,
            tombstone_position,
            removed,
        } = self
            .store
            .delete_stream(stream_id, mode)
            .await
            .map_err(refusal)?;
        Ok(LifecycleReport {
            stream_id: stream_id.to_owned(),
            operation: "delete",
            mode: Some(mode),
            tombstone: Some((tombstone_version, tombstone_position)),
            first_kept_version: None,
            removed,
        })
    }

    /// Makes deleted stream `stream_id` writable again, removing its records.
    pub async fn recreate_stream(&self, stream_id: &str) -> Result<LifecycleReport, OpsError> {
        let removed = self
            .store
            .recreate_stream(stream_id)
            .await
            .map_err(refusal)?;
        Ok(LifecycleReport {
            stream_id: stream_id.to_owned(),
            operation: "recreate",
            mode: None,
            tombstone: None,
            first_kept_version: None,
            removed,
        })
    }

    /// Removes the events of `stream_id` before `before_version`. The
    /// store's truncation takes no snapshot: an aggregate whose snapshot is
    /// older than `before_version - 1` no longer loads, so the application
    /// should truncate through `Repository::truncate_before`, which saves
    /// the baseline first; this is for streams read only by projections.
    pub async fn truncate_stream(
        &self,
        stream_id: &str,
        before_version: u64,
    ) -> Result<LifecycleReport, OpsError> {
        let Truncation {
            first_kept_version,
            removed,
        } = self
            .store
            .truncate_before(stream_id, before_version)
            .await
            .map_err(refusal)?;
        Ok(LifecycleReport {
            stream_id: stream_id.to_owned(),
            operation: "truncate",
            mode: None,
            tombstone: None,
            first_kept_version: Some(first_kept_version),
            removed,
        })
    }
}
