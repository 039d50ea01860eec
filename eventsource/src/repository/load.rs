//! Rebuilding an aggregate: latest usable snapshot, then the events after it.

use std::fmt::Display;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tracing::Instrument;

use super::{Loaded, Repository};
use crate::aggregate::Aggregate;
use crate::error::Error;
use crate::event::EventSet;
use crate::event::RecordedEvent;
use crate::store::{RecordFields, Snapshot, SnapshotWanted, StoreError, StreamLoad, TOMBSTONE};

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

    /// The aggregate of stream `stream_id` (a stream id, not an aggregate
    /// id) at its latest version: what a policy that asks the aggregate
    /// loads, from a listing of streams.
    pub async fn load_stream(&self, stream_id: &str) -> Result<Option<Loaded<A>>, Error> {
        self.rebuild(stream_id, Until::Latest).await
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
            archived_events = tracing::field::Empty,
        );
        async {
            let mut replay = Replay {
                stream_id,
                until,
                state: A::default(),
                version: 0,
                applied: 0,
                failure: None,
                gap_at: None,
                ended: false,
            };
            // A load by time reads the recording times; no load reads the
            // metadata, which a store may then leave unread.
            let fields = match until {
                Until::Time(_) => RecordFields::REPLAY.with_envelope(),
                Until::Latest | Until::Version(_) => RecordFields::REPLAY,
            };
            let mut snapshot_version = None;
            if !self
                .snapshot_and_events(stream_id, until, &mut replay, &mut snapshot_version)
                .await?
            {
                let (state, version) = self.start_state(stream_id, until).await?;
                replay.state = state;
                replay.version = version.unwrap_or(0);
                snapshot_version = version;
                // The records are lent, not copied: each is decoded and
                // applied in place, with no allocation beyond the payload's
                // own decode.
                let from = replay.version + 1;
                self.store
                    .visit_stream_with(
                        stream_id,
                        from,
                        fields,
                        &mut |records: &[RecordedEvent]| replay.take_all(records, true),
                    )
                    .await?;
            }
            // The hot log starts after the next version: the versions
            // between were archived (or truncated, which the archive
            // cannot fill and the replay then reports).
            let mut archived_events = 0;
            if let Some(hot_from) = replay.gap_at.take() {
                let before = replay.applied;
                let mut archived = self
                    .store
                    .read_archived_stream(stream_id, replay.version + 1);
                while let Some(record) = archived.try_next().await? {
                    if record.stream_version >= hot_from || !replay.take_all(&[record], false) {
                        break;
                    }
                }
                drop(archived);
                archived_events = replay.applied - before;
                if replay.failure.is_none() && !replay.ended {
                    self.store
                        .visit_stream_with(
                            stream_id,
                            hot_from,
                            fields,
                            &mut |records: &[RecordedEvent]| replay.take_all(records, false),
                        )
                        .await?;
                }
            }
            if let Some(error) = replay.failure {
                return Err(error);
            }
            let span = tracing::Span::current();
            span.record("version", replay.version);
            span.record("events", replay.applied);
            span.record("archived_events", archived_events);
            if replay.version == 0 {
                return Ok(None);
            }
            Ok(Some(Loaded {
                stream_id: Arc::from(stream_id),
                version: replay.version,
                state: replay.state,
                snapshot_version,
                events_applied: replay.applied,
                archived_events,
            }))
        }
        .instrument(span)
        .await
    }

    /// The snapshot and the events after it read together, when the event
    /// store keeps the snapshot store's snapshots itself (see
    /// [`EventStore::visit_stream_after_snapshot`](crate::store::EventStore::visit_stream_after_snapshot)):
    /// `false` when it does not, having read nothing.
    async fn snapshot_and_events(
        &self,
        stream_id: &str,
        until: Until,
        replay: &mut Replay<'_, A>,
        snapshot_version: &mut Option<u64>,
    ) -> Result<bool, Error> {
        let max_version = match until {
            Until::Latest => u64::MAX,
            Until::Version(v) => v,
            Until::Time(_) => return Ok(false),
        };
        let Some(home) = self.snapshots.as_ref().and_then(|s| s.home()) else {
            return Ok(false);
        };
        let wanted = SnapshotWanted::new(A::SNAPSHOT_REVISION, max_version);
        let mut load = FromSnapshot {
            replay,
            snapshot_version,
        };
        Ok(self
            .store
            .visit_stream_after_snapshot(stream_id, &home, wanted, &mut load)
            .await?)
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
        match decode_snapshot::<A>(&snapshot) {
            Some(state) => Ok((state, Some(snapshot.version))),
            None => Ok((A::default(), None)),
        }
    }
}

/// The state of `snapshot`, if it decodes (a warning if not).
fn decode_snapshot<A: Aggregate>(snapshot: &Snapshot) -> Option<A> {
    match A::decode_snapshot(&snapshot.state) {
        Some(Ok(state)) => {
            tracing::Span::current().record("snapshot_version", snapshot.version);
            Some(state)
        }
        Some(Err(error)) => {
            tracing::warn!(
                stream_id = &*snapshot.stream_id,
                version = snapshot.version,
                %error,
                "ignoring a snapshot that does not decode; replaying the stream"
            );
            None
        }
        None => None,
    }
}

/// A replay that starts from the snapshot the store offers, if it decodes.
struct FromSnapshot<'r, 's, A> {
    replay: &'r mut Replay<'s, A>,
    snapshot_version: &'r mut Option<u64>,
}

impl<A: Aggregate> StreamLoad for FromSnapshot<'_, '_, A> {
    fn snapshot(&mut self, snapshot: &Snapshot) -> bool {
        let Some(state) = decode_snapshot::<A>(snapshot) else {
            return false;
        };
        self.replay.state = state;
        self.replay.version = snapshot.version;
        *self.snapshot_version = Some(snapshot.version);
        true
    }

    fn events(&mut self, records: &[RecordedEvent]) -> bool {
        self.replay.take_all(records, true)
    }
}

/// A replay in progress: the state, where it is, and why it stopped.
struct Replay<'s, A> {
    stream_id: &'s str,
    until: Until,
    state: A,
    version: u64,
    applied: u64,
    failure: Option<Error>,
    /// The version of the first hot record, when it came after a gap that
    /// the archive may fill.
    gap_at: Option<u64>,
    /// Whether the replay reached the end asked for (`Until`).
    ended: bool,
}

impl<A: Aggregate> Replay<'_, A> {
    /// Applies `records` in order; `false` to stop. With `may_gap`, a jump
    /// in versions stops the replay at the gap (see `gap_at`) instead of
    /// failing it.
    fn take_all(&mut self, records: &[RecordedEvent], may_gap: bool) -> bool {
        // Kept in locals for the loop, so that the decode and apply calls,
        // opaque to the optimiser, do not force them through memory.
        let (last, time) = match self.until {
            Until::Latest => (u64::MAX, None),
            Until::Version(v) => (v, None),
            Until::Time(t) => (u64::MAX, Some(t)),
        };
        let mut version = self.version;
        let mut applied = self.applied;
        let mut go_on = true;
        for record in records {
            if record.stream_version > last || time.is_some_and(|t| record.recorded_at > t) {
                self.ended = true;
                go_on = false;
                break;
            }
            if &*record.event_name == TOMBSTONE {
                self.failure = Some(
                    StoreError::StreamDeleted {
                        stream_id: self.stream_id.into(),
                    }
                    .into(),
                );
                go_on = false;
                break;
            }
            if record.stream_version != version + 1 {
                if may_gap && record.stream_version > version + 1 {
                    self.gap_at = Some(record.stream_version);
                } else {
                    self.failure = Some(
                        StoreError::Corrupt {
                            global_position: record.global_position,
                            reason: format!(
                                "stream `{}` jumps from version {} to {} \
                                 (a truncated stream needs a snapshot at the version before its first event)",
                                self.stream_id, version, record.stream_version
                            ),
                        }
                        .into(),
                    );
                }
                go_on = false;
                break;
            }
            match A::Event::decode(record) {
                Ok(event) => {
                    self.state.apply(&event);
                    version = record.stream_version;
                    applied += 1;
                }
                Err(error) => {
                    self.failure = Some(error.into());
                    go_on = false;
                    break;
                }
            }
        }
        self.version = version;
        self.applied = applied;
        go_on
    }
}
