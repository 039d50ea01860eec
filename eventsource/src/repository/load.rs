//! Rebuilding an aggregate: latest usable snapshot, then the events after it.

use std::fmt::Display;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::{Loaded, Repository};
use crate::aggregate::Aggregate;
use crate::error::Error;
use crate::event::EventSet;
use crate::event::RecordedEvent;
use crate::store::{StoreError, TOMBSTONE};

/// Where a load stops.
#[derive(Clone, Copy, Debug)]
pub(super) enum Until {
    Latest,
    Version(u64),
    Time(DateTime<Utc>),
}

impl<A: Aggregate> Repository<A> {
    /// The aggregate with this id at its latest version; `None` if its stream
    /// has no events.
    pub async fn load(&self, id: impl Display) -> Result<Option<Loaded<A>>, Error> {
        self.rebuild(&Self::checked_stream_id(&id.to_string())?, Until::Latest)
            .await
    }

    /// The aggregate as it was after the event at `version`.
    pub async fn load_at_version(
        &self,
        id: impl Display,
        version: u64,
    ) -> Result<Option<Loaded<A>>, Error> {
        self.rebuild(
            &Self::checked_stream_id(&id.to_string())?,
            Until::Version(version),
        )
        .await
    }

    /// The aggregate as it was at `time`: every event recorded at or before it.
    ///
    /// Snapshots are not used; the stream is replayed from its start.
    pub async fn load_at_time(
        &self,
        id: impl Display,
        time: DateTime<Utc>,
    ) -> Result<Option<Loaded<A>>, Error> {
        self.rebuild(
            &Self::checked_stream_id(&id.to_string())?,
            Until::Time(time),
        )
        .await
    }

    pub(super) async fn rebuild(
        &self,
        stream_id: &str,
        until: Until,
    ) -> Result<Option<Loaded<A>>, Error> {
        let span = tracing::debug_span!(
            "eventsource.load",
            aggregate = A::NAME,
            stream_id,
            snapshot_version = tracing::field::Empty,
            version = tracing::field::Empty,
            events = tracing::field::Empty,
        );
        async {
            let (mut state, snapshot_version) = self.start_state(stream_id, until).await?;
            let mut version = snapshot_version.unwrap_or(0);
            let mut applied = 0u64;
            let from = version + 1;
            let mut failure: Option<Error> = None;
            let mut visit = |records: &[RecordedEvent]| {
                for record in records {
                    let past_end = match until {
                        Until::Latest => false,
                        Until::Version(v) => record.stream_version > v,
                        Until::Time(t) => record.recorded_at > t,
                    };
                    if past_end {
                        return false;
                    }
                    if &*record.event_name == TOMBSTONE {
                        failure = Some(
                            StoreError::StreamDeleted {
                                stream_id: stream_id.into(),
                            }
                            .into(),
                        );
                        return false;
                    }
                    if record.stream_version != version + 1 {
                        failure = Some(
                            StoreError::Corrupt {
                                global_position: record.global_position,
                                reason: format!(
                                    "stream `{stream_id}` jumps from version {version} to {} \
                                     (a truncated stream needs a snapshot at the version before its first event)",
                                    record.stream_version
                                ),
                            }
                            .into(),
                        );
                        return false;
                    }
                    match A::Event::decode(record) {
                        Ok(event) => {
                            state.apply(&event);
                            version = record.stream_version;
                            applied += 1;
                        }
                        Err(error) => {
                            failure = Some(error.into());
                            return false;
                        }
                    }
                }
                true
            };
            // The records are lent, not copied: each is decoded and applied
            // in place, with no allocation beyond the payload's own decode.
            self.store.visit_stream(stream_id, from, &mut visit).await?;
            if let Some(error) = failure {
                return Err(error);
            }
            let span = tracing::Span::current();
            span.record("version", version);
            span.record("events", applied);
            if version == 0 {
                return Ok(None);
            }
            Ok(Some(Loaded {
                stream_id: Arc::from(stream_id),
                version,
                state,
                snapshot_version,
                events_applied: applied,
            }))
        }
        .instrument(span)
        .await
    }

    /// The state to replay from: a usable snapshot's, or the default.
    async fn start_state(&self, stream_id: &str, until: Until) -> Result<(A, Option<u64>), Error> {
        let limit = match until {
            Until::Latest => u64::MAX,
            Until::Version(v) => v,
            Until::Time(_) => return Ok((A::default(), None)),
        };
        let Some(snapshots) = &self.snapshots else {
            return Ok((A::default(), None));
        };
        let Some(snapshot) = snapshots.load(stream_id).await? else {
            return Ok((A::default(), None));
        };
        if snapshot.revision != A::SNAPSHOT_REVISION {
            tracing::debug!(
                stream_id,
                stored = snapshot.revision,
                current = A::SNAPSHOT_REVISION,
                "ignoring a snapshot of another aggregate revision"
            );
            return Ok((A::default(), None));
        }
        if snapshot.version > limit {
            return Ok((A::default(), None));
        }
        match A::decode_snapshot(&snapshot.state) {
            Some(Ok(state)) => {
                tracing::Span::current().record("snapshot_version", snapshot.version);
                Ok((state, Some(snapshot.version)))
            }
            Some(Err(error)) => {
                tracing::warn!(
                    stream_id,
                    version = snapshot.version,
                    %error,
                    "ignoring a snapshot that does not decode; replaying the stream"
                );
                Ok((A::default(), None))
            }
            None => Ok((A::default(), None)),
        }
    }
}
