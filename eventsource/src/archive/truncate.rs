//! Truncation by policy: keep the last versions of each stream of a type,
//! behind the snapshot that replaces the rest.

use std::sync::Arc;

use super::error::ArchiveError;
use crate::store::StreamQuery;
use crate::store::{EventStore, IntoEventStore, IntoSnapshotStore, SnapshotStore, StoreError};

/// Streams listed per query.
const LIST_PAGE: usize = 1000;

/// Which events to remove: those of streams of `aggregate_type` older than
/// their last `keep_last` versions, as far as a snapshot covers them.
///
/// A stream is truncated before `min(version - keep_last + 1, snapshot + 1)`:
/// never past its snapshot, which must be one its aggregate's current code
/// can read (a snapshot of another revision is ignored by loads, and the
/// removed events would then be missed). Streams without a snapshot are
/// left whole. [`Repository::truncate_before`](crate::repository::Repository::truncate_before)
/// takes the snapshot itself, for one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruncatePolicy {
    /// The aggregate type.
    pub aggregate_type: String,
    /// How many of the latest versions of each stream to keep (at least 1).
    pub keep_last: u64,
}

impl TruncatePolicy {
    /// Keep the last `keep_last` versions of each stream of `aggregate_type`.
    pub fn new(aggregate_type: impl Into<String>, keep_last: u64) -> Self {
        Self {
            aggregate_type: aggregate_type.into(),
            keep_last,
        }
    }
}

/// How far a truncation job is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TruncateProgress {
    /// Streams gone through.
    pub streams_done: u64,
    /// Events removed so far.
    pub events_removed: u64,
}

/// What a truncation run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TruncateReport {
    /// Streams of the type.
    pub streams_matched: u64,
    /// Streams that had events removed now.
    pub streams_truncated: u64,
    /// Streams left whole for want of a snapshot.
    pub streams_without_baseline: u64,
    /// Streams with nothing to remove (short, or truncated before), or
    /// deleted meanwhile.
    pub streams_unchanged: u64,
    /// Events removed now.
    pub events_removed: u64,
}

/// Applies a [`TruncatePolicy`] to a store, one stream (one transaction)
/// at a time; rerunnable like the archive job.
#[derive(Clone)]
pub struct TruncateJob {
    store: Arc<dyn EventStore>,
    snapshots: Arc<dyn SnapshotStore>,
    policy: TruncatePolicy,
}

impl std::fmt::Debug for TruncateJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TruncateJob")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl TruncateJob {
    /// A job applying `policy` to `store`, with baselines from `snapshots`.
    pub fn new(
        store: impl IntoEventStore,
        snapshots: impl IntoSnapshotStore,
        policy: TruncatePolicy,
    ) -> Self {
        Self {
            store: store.into_event_store(),
            snapshots: snapshots.into_snapshot_store(),
            policy,
        }
    }

    /// Runs the policy once, calling `progress` after each stream.
    ///
    /// Errors: [`ArchiveError::InvalidPolicy`] for `keep_last` 0,
    /// [`ArchiveError::NoBaseline`] when no stream of the type has a
    /// snapshot (nothing is removed), and the store's errors.
    pub async fn run(
        &self,
        mut progress: impl FnMut(&TruncateProgress) + Send,
    ) -> Result<TruncateReport, ArchiveError> {
        let policy = &self.policy;
        if policy.keep_last == 0 {
            return Err(ArchiveError::InvalidPolicy(
                "a truncation must keep at least the last version of each stream".to_owned(),
            ));
        }
        let mut report = TruncateReport::default();
        let mut at = TruncateProgress::default();
        let mut query = StreamQuery::new(LIST_PAGE).with_aggregate_type(&policy.aggregate_type);
        let mut any_baseline = false;
        loop {
            let page = self.store.streams(&query).await?;
            let full = page.len() == LIST_PAGE;
            let Some(last) = page.last() else {
                break;
            };
            query = query.after(last.stream_id.clone());
            for stream in page {
                report.streams_matched += 1;
                at.streams_done += 1;
                let target = stream.version.saturating_sub(policy.keep_last) + 1;
                let snapshot = self.snapshots.load(&stream.stream_id).await?;
                let Some(snapshot) = snapshot else {
                    report.streams_without_baseline += 1;
                    progress(&at);
                    continue;
                };
                any_baseline = true;
                let before = target.min(snapshot.version + 1);
                if before <= 1 {
                    report.streams_unchanged += 1;
                    progress(&at);
                    continue;
                }
                match self.store.truncate_before(&stream.stream_id, before).await {
                    Ok(done) if done.removed > 0 => {
                        report.streams_truncated += 1;
                        report.events_removed += done.removed;
                    }
                    Ok(_)
                    | Err(StoreError::StreamDeleted { .. } | StoreError::StreamNotFound { .. }) => {
                        report.streams_unchanged += 1;
                    }
                    Err(other) => return Err(other.into()),
                }
                at.events_removed = report.events_removed;
                progress(&at);
            }
            if !full {
                break;
            }
        }
        if !any_baseline {
            return Err(ArchiveError::NoBaseline {
                aggregate_type: policy.aggregate_type.clone(),
            });
        }
        Ok(report)
    }
}
