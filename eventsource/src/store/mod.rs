//! The storage traits every backend implements, and their request types.

mod append;
pub mod archive;
mod catalog;
mod checkpoint;
mod corrupt;
mod error;
mod fields;
mod filter;
mod into_store;
mod invalid;
pub mod lifecycle;
mod partition;
pub mod rules;
mod snapshot;
mod snapshot_load;

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::TryStreamExt;
use futures::stream::BoxStream;

use crate::event::{NewEvent, RecordedEvent};

pub use append::{AppendResult, ExpectedVersion};
pub use archive::{ArchiveRange, ArchiveStatus, ArchivedStream};
pub use catalog::{StoredEventType, StreamQuery, StreamSummary};
pub use checkpoint::CheckpointStore;
pub use corrupt::CorruptRecord;
pub use error::{CurrentVersion, StoreError};
pub use fields::RecordFields;
pub use filter::EventFilter;
pub use into_store::{IntoEventStore, IntoSnapshotStore};
pub use invalid::{InvalidRequest, RequestField};
pub use lifecycle::{DeleteMode, Deletion, StreamDeleted, TOMBSTONE, Truncation};
pub use partition::{BUCKETS, InvalidPartition, PartitionFilter, partition_of, stream_bucket};
pub use snapshot::{Snapshot, SnapshotHome, SnapshotStore};
pub use snapshot_load::{SnapshotWanted, StreamLoad};

/// A stream of stored events, read lazily in store order.
pub type EventStream = BoxStream<'static, Result<RecordedEvent, StoreError>>;

/// A live subscription: stored events, then new ones as they commit.
pub type Subscription = BoxStream<'static, Result<SubscriptionItem, StoreError>>;

/// What a subscription yields.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SubscriptionItem {
    /// The next event in global order that passes the filter.
    Event(RecordedEvent),
    /// Every event up to and including `position` has been delivered or
    /// filtered out, and the subscription is waiting for more.
    ///
    /// Consumers may checkpoint at `position` even when the filter hid the
    /// events before it.
    CaughtUp {
        /// The last global position covered.
        position: u64,
    },
    /// A stored record that passes the filter but cannot be read as an
    /// event (its metadata does not decode, say). The subscription goes on
    /// after it; a store failure, by contrast, is an `Err` item.
    Corrupt(Box<CorruptRecord>),
}

/// An append-only event log with per-stream optimistic concurrency.
///
/// Stream versions start at 1 and are contiguous. Global positions are
/// positive and strictly increase in the order [`EventStore::read_all`] and
/// [`EventStore::subscribe`] deliver events; they need not be contiguous
/// (the in-memory store's are, PostgreSQL's are not).
///
/// Run the conformance suite (`testing::conformance`, feature `testing`) against an
/// implementation to check it keeps these rules.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event store",
    note = "use `eventsource::memory::InMemoryStore`, the PostgreSQL store, or implement `EventStore`"
)]
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Appends `events` to `stream_id` atomically, if the stream is at `expected`.
    ///
    /// An empty batch writes nothing but still checks `expected`. A batch whose
    /// event ids are all stored already, as this same batch in this stream, is
    /// not written again: the result has `replayed` set.
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError>;

    /// The events of `stream_id` from `from_version` (inclusive) to its end,
    /// in the hot log: archived events are read with
    /// [`EventStore::read_archived_stream`].
    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream;

    /// Lends the events of `stream_id` from `from_version` (inclusive) to
    /// `visit`, in order and a run of records at a time, until the stream
    /// ends or `visit` returns `false`. No run is empty.
    ///
    /// The same events as [`EventStore::read_stream`], lent instead of handed
    /// over: loading an aggregate looks at each record once, so a store that
    /// holds its records can skip copying them, and a visitor that loops over
    /// a run itself pays one dynamic call per run rather than per event. The
    /// default reads `read_stream` and lends runs of up to 256 records. The
    /// in-memory store lends the runs of records that sit next to each other
    /// in its log, a chunk at a time under its read lock, so `visit` must not
    /// call back into the store.
    async fn visit_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<(), StoreError> {
        const RUN: usize = 256;
        let mut events = self.read_stream(stream_id, from_version);
        let mut run = Vec::with_capacity(RUN);
        loop {
            match events.try_next().await {
                Ok(Some(event)) => {
                    run.push(event);
                    if run.len() == RUN {
                        if !visit(&run) {
                            return Ok(());
                        }
                        run.clear();
                    }
                }
                Ok(None) => break,
                // The records before a failed read come first: the visitor
                // may stop at one of them, and then the failure is not its.
                Err(error) => {
                    if !run.is_empty() && !visit(&run) {
                        return Ok(());
                    }
                    return Err(error);
                }
            }
        }
        if !run.is_empty() {
            visit(&run);
        }
        Ok(())
    }

    /// Like [`EventStore::visit_stream`], filling in of each record only
    /// `fields` (see [`RecordFields`]): what a load reads,
    /// [`RecordFields::REPLAY`], a store on a server can select, transfer
    /// and convert alone.
    ///
    /// The default lends every field, through `visit_stream`.
    async fn visit_stream_with(
        &self,
        stream_id: &str,
        from_version: u64,
        fields: RecordFields,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<(), StoreError> {
        let _ = fields;
        self.visit_stream(stream_id, from_version, visit).await
    }

    /// Reads the latest snapshot of `stream_id` that `wanted` accepts and
    /// the events after it together, when this store keeps the snapshots
    /// of `home` (a [`SnapshotStore::home`]) itself: one round trip where
    /// a snapshot read and a stream read take two.
    ///
    /// Offers the snapshot, if there is one, to `load` first, then lends
    /// it the events after the snapshot's version (from version 1 when
    /// there is no snapshot or `load` declines it) up to
    /// `wanted.max_version`, with the fields of [`RecordFields::REPLAY`],
    /// until the stream ends there or `load` stops.
    /// Returns `Ok(false)` having read nothing when this store does not
    /// keep `home`'s snapshots (the default): the caller then loads the
    /// snapshot and visits the stream itself.
    async fn visit_stream_after_snapshot(
        &self,
        stream_id: &str,
        home: &SnapshotHome,
        wanted: SnapshotWanted,
        load: &mut dyn StreamLoad,
    ) -> Result<bool, StoreError> {
        let _ = (stream_id, home, wanted, load);
        Ok(false)
    }

    /// The events of the global log from `from_position` (inclusive) that pass
    /// `filter`, up to the head as of the call: archived and hot events in
    /// one order (see [`archive`]).
    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream;

    /// Like [`EventStore::read_all`], then follows new events as they commit.
    ///
    /// Never skips an event, even one committed after a later-numbered one.
    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription;

    /// Like [`EventStore::subscribe`], for the consumer named `consumer` (a
    /// projection's or saga's slot: its name and version): the projection
    /// runner subscribes through this. A source that keeps state per
    /// consumer (a durable JetStream consumer, in `eventsource-nats`) uses
    /// the name; the default ignores it.
    fn subscribe_as(
        &self,
        consumer: &str,
        from_position: u64,
        filter: EventFilter,
    ) -> Subscription {
        let _ = consumer;
        self.subscribe(from_position, filter)
    }

    /// Told by the projection runner that `consumer` has committed every
    /// event of its subscription up to `position` (its checkpoint moved
    /// there). A source that acknowledges deliveries (JetStream) does so
    /// now, never before the read model committed; the default does
    /// nothing. Called from inside the runner's task: it must not block.
    fn committed(&self, consumer: &str, position: u64) {
        let _ = (consumer, position);
    }

    /// The version of the last event in `stream_id`, `None` if it has none.
    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError>;

    /// Deletes `stream_id`: appends a [`StreamDeleted`] tombstone after its
    /// last event and, for [`DeleteMode::Hard`], removes every earlier event
    /// of the stream and its snapshot (see [`lifecycle`]).
    ///
    /// A hard delete of a stream deleted softly removes what the soft delete
    /// kept, under the existing tombstone. Errors: [`StoreError::StreamNotFound`]
    /// for a stream without events, [`StoreError::StreamDeleted`] for a
    /// second soft delete or a hard delete of a hard-deleted stream. The
    /// default refuses with [`StoreError::Unsupported`].
    async fn delete_stream(
        &self,
        stream_id: &str,
        mode: DeleteMode,
    ) -> Result<Deletion, StoreError> {
        let _ = (stream_id, mode);
        Err(StoreError::Unsupported {
            operation: "deleting streams",
        })
    }

    /// Makes a deleted stream writable again by removing every record of it,
    /// tombstone included: its next append starts at version 1
    /// ([`ExpectedVersion::NoStream`]). Returns how many records were
    /// removed. Errors: [`StoreError::StreamNotFound`],
    /// [`StoreError::StreamNotDeleted`]. The default refuses with
    /// [`StoreError::Unsupported`].
    async fn recreate_stream(&self, stream_id: &str) -> Result<u64, StoreError> {
        let _ = stream_id;
        Err(StoreError::Unsupported {
            operation: "recreating streams",
        })
    }

    /// Removes the events of `stream_id` before `before_version` (exclusive)
    /// and keeps the rest; the stream's version does not change. Errors:
    /// [`StoreError::StreamNotFound`], [`StoreError::StreamDeleted`],
    /// [`StoreError::TruncateBeyondHead`] when `before_version` is past the
    /// last event. The default refuses with [`StoreError::Unsupported`].
    async fn truncate_before(
        &self,
        stream_id: &str,
        before_version: u64,
    ) -> Result<Truncation, StoreError> {
        let _ = (stream_id, before_version);
        Err(StoreError::Unsupported {
            operation: "truncating streams",
        })
    }

    /// Moves every event but the last of each of `stream_ids` into the
    /// archive, keeping their positions (see [`archive`]). Streams without
    /// events are skipped; a stream already archived moves nothing. One
    /// batch is one short transaction. The default refuses with
    /// [`StoreError::Unsupported`].
    async fn archive_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<ArchivedStream>, StoreError> {
        let _ = stream_ids;
        Err(StoreError::Unsupported {
            operation: "archiving streams",
        })
    }

    /// The archived events of `stream_id` from `from_version` (inclusive),
    /// in version order. The default has none.
    fn read_archived_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        let _ = (stream_id, from_version);
        Box::pin(futures::stream::empty())
    }

    /// The archived events with positions from `from_position` to
    /// `to_position` (both inclusive), in position order: what an export
    /// writes. The default has none.
    fn read_archive(&self, from_position: u64, to_position: u64) -> EventStream {
        let _ = (from_position, to_position);
        Box::pin(futures::stream::empty())
    }

    /// What the archive holds. The default: an empty archive.
    async fn archive_status(&self) -> Result<ArchiveStatus, StoreError> {
        Ok(ArchiveStatus::default())
    }

    /// The global position of the last event a reader can see (0 when empty).
    async fn head_position(&self) -> Result<u64, StoreError>;

    /// How many events from `from_position` (inclusive) pass `filter`, up to
    /// the head. The default reads them all; stores should count natively.
    async fn count_events(
        &self,
        from_position: u64,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        let mut events = self.read_all(from_position, filter);
        let mut count = 0;
        while events.try_next().await?.is_some() {
            count += 1;
        }
        Ok(count)
    }

    /// The streams `query` selects, by stream id, with their version and
    /// when they last changed. The default reads the whole log; stores
    /// should ask their index.
    async fn streams(&self, query: &StreamQuery) -> Result<Vec<StreamSummary>, StoreError> {
        let mut filter = EventFilter::all();
        if let Some(aggregate_type) = &query.aggregate_type {
            filter = filter.with_aggregate_types([aggregate_type.as_str()]);
        }
        let mut events = self.read_all(1, filter);
        let mut streams: BTreeMap<String, StreamSummary> = BTreeMap::new();
        while let Some(event) = events.try_next().await? {
            if !query.matches(&event.stream_id, &event.aggregate_type) {
                continue;
            }
            let summary = StreamSummary {
                stream_id: event.stream_id.to_string(),
                aggregate_type: event.aggregate_type.to_string(),
                version: event.stream_version,
                last_position: event.global_position,
                last_recorded_at: event.recorded_at,
            };
            streams.insert(summary.stream_id.clone(), summary);
        }
        Ok(streams.into_values().take(query.limit).collect())
    }

    /// Every distinct event name and schema version stored, by name and
    /// version, with counts: what a reader of the whole log must be able to
    /// decode. The default reads the whole log; stores should aggregate
    /// natively.
    async fn event_types(&self) -> Result<Vec<StoredEventType>, StoreError> {
        let mut events = self.read_all(1, EventFilter::all());
        let mut types: BTreeMap<(String, u32), StoredEventType> = BTreeMap::new();
        while let Some(event) = events.try_next().await? {
            let key = (event.event_name.to_string(), event.schema_version);
            types
                .entry(key)
                .and_modify(|t| {
                    t.count += 1;
                    t.last_position = event.global_position;
                })
                .or_insert_with(|| StoredEventType {
                    event_name: event.event_name.to_string(),
                    schema_version: event.schema_version,
                    count: 1,
                    first_position: event.global_position,
                    last_position: event.global_position,
                });
        }
        Ok(types.into_values().collect())
    }
}
