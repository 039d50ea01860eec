//! Truncating an aggregate's stream behind a snapshot of its state.

use std::fmt::Display;

use super::Repository;
use super::load::Until;
use crate::aggregate::Aggregate;
use crate::error::Error;
use crate::store::{Snapshot, StoreError, Truncation};

impl<A: Aggregate> Repository<A> {
    /// Removes the events of the aggregate's stream before `before_version`,
    /// after saving a snapshot of its state at `before_version - 1` as the
    /// new baseline for loads.
    ///
    /// Needs a snapshot store and an aggregate that keeps snapshots; errors
    /// otherwise, and with the store's typed errors for a missing, deleted
    /// or too short stream ([`StoreError::TruncateBeyondHead`]). Nothing is
    /// removed unless the snapshot was saved.
    pub async fn truncate_before(
        &self,
        id: impl Display,
        before_version: u64,
    ) -> Result<Truncation, Error> {
        let stream_id = Self::checked_stream_id(&id.to_string())?;
        let Some(snapshots) = &self.snapshots else {
            return Err(StoreError::invalid(format!(
                "truncating `{stream_id}` needs a snapshot store for the new baseline"
            ))
            .into());
        };
        let head = self
            .store
            .stream_version(&stream_id)
            .await?
            .ok_or_else(|| StoreError::StreamNotFound {
                stream_id: stream_id.as_str().into(),
            })?;
        if before_version > head {
            return Err(StoreError::TruncateBeyondHead {
                stream_id: stream_id.as_str().into(),
                before: before_version,
                head,
            }
            .into());
        }
        let baseline = before_version.saturating_sub(1);
        if baseline > 0 {
            let loaded = self
                .rebuild(&stream_id, Until::Version(baseline))
                .await?
                .ok_or_else(|| StoreError::StreamNotFound {
                    stream_id: stream_id.as_str().into(),
                })?;
            let state = match loaded.state.encode_snapshot() {
                Some(Ok(state)) => state,
                Some(Err(error)) => {
                    return Err(StoreError::invalid(format!(
                        "cannot serialize the snapshot of `{stream_id}` at version {baseline}: {error}"
                    ))
                    .into());
                }
                None => {
                    return Err(StoreError::invalid(format!(
                        "aggregate `{}` keeps no snapshots, so `{stream_id}` cannot be truncated",
                        A::NAME
                    ))
                    .into());
                }
            };
            snapshots
                .save(Snapshot {
                    stream_id: stream_id.as_str().into(),
                    aggregate_type: A::NAME.into(),
                    version: baseline,
                    revision: A::SNAPSHOT_REVISION,
                    state: state.into(),
                    taken_at: self.clock.now(),
                })
                .await?;
        }
        Ok(self
            .store
            .truncate_before(&stream_id, before_version)
            .await?)
    }
}
