//! `EventStore::visit_stream`: the in-memory store's lending reader and the
//! trait's default agree with `read_stream`.

use std::sync::Arc;

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::store::{AppendResult, EventStream, Subscription};
use futures::TryStreamExt;

/// A store that keeps the trait's default `visit_stream`.
struct Defaulted(InMemoryStore);

#[async_trait]
impl EventStore for Defaulted {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.0
            .append(stream_id, aggregate_type, expected, events)
            .await
    }
    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        self.0.read_stream(stream_id, from_version)
    }
    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        self.0.read_all(from_position, filter)
    }
    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        self.0.subscribe(from_position, filter)
    }
    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.0.stream_version(stream_id).await
    }
    async fn head_position(&self) -> Result<u64, StoreError> {
        self.0.head_position().await
    }
}

/// 1,200 events (more than two of the in-memory store's chunks) in "s-1",
/// interleaved with events of "s-2".
async fn filled() -> InMemoryStore {
    let store = InMemoryStore::new();
    for i in 0..1_200u32 {
        for stream in ["s-1", "s-2"] {
            let event = NewEvent::new("test.Noted", 1, format!(r#"{{"i":{i}}}"#), Metadata::new());
            store
                .append(stream, "test.Stream", ExpectedVersion::Any, vec![event])
                .await
                .unwrap();
        }
    }
    store
}

/// The records lent, and the length of each run.
async fn visited_runs(
    store: &dyn EventStore,
    stream: &str,
    from: u64,
    stop_after: usize,
) -> (Vec<RecordedEvent>, Vec<usize>) {
    let mut seen = Vec::new();
    let mut runs = Vec::new();
    store
        .visit_stream(stream, from, &mut |records: &[RecordedEvent]| {
            runs.push(records.len());
            for record in records {
                seen.push(record.clone());
                if seen.len() == stop_after {
                    return false;
                }
            }
            true
        })
        .await
        .unwrap();
    (seen, runs)
}

async fn visited(store: &dyn EventStore, from: u64, stop_after: usize) -> Vec<RecordedEvent> {
    visited_runs(store, "s-1", from, stop_after).await.0
}

#[tokio::test]
async fn lends_what_read_stream_returns() {
    let store = filled().await;
    let defaulted = Defaulted(store.clone());
    for from in [0, 1, 2, 512, 513, 1_200, 1_201] {
        let read: Vec<RecordedEvent> = store.read_stream("s-1", from).try_collect().await.unwrap();
        assert_eq!(visited(&store, from, usize::MAX).await, read, "from {from}");
        assert_eq!(
            visited(&defaulted, from, usize::MAX).await,
            read,
            "from {from}"
        );
    }
    assert!(visited(&store, 1, usize::MAX).await.len() == 1_200);
}

#[tokio::test]
async fn stops_when_the_visitor_says_so() {
    let store = filled().await;
    let defaulted = Defaulted(store.clone());
    for stop in [1, 511, 512, 513, 700] {
        let lent = visited(&store, 1, stop).await;
        assert_eq!(lent.len(), stop);
        assert_eq!(lent.last().unwrap().stream_version, stop as u64);
        assert_eq!(visited(&defaulted, 1, stop).await, lent);
    }
}

#[tokio::test]
async fn lends_nothing_for_a_missing_stream() {
    let store: Arc<dyn EventStore> = Arc::new(filled().await);
    let mut count = 0;
    store
        .visit_stream("absent", 1, &mut |_: &[RecordedEvent]| {
            count += 1;
            true
        })
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn lends_neighbours_in_the_log_as_one_run() {
    // "s-1" interleaved with "s-2": every event is a run of its own.
    let interleaved = filled().await;
    let (_, runs) = visited_runs(&interleaved, "s-1", 1, usize::MAX).await;
    assert!(runs.iter().all(|&n| n == 1), "{runs:?}");

    // Batches of 100 with another stream's event between them: one run per
    // batch, and the chunk limit of 512 splits none of them but the fifth.
    let store = InMemoryStore::new();
    for batch in 0..8u32 {
        let events = (0..100)
            .map(|i| NewEvent::new("test.Noted", 1, format!(r#"{{"i":{i}}}"#), Metadata::new()))
            .collect();
        store
            .append("b", "test.Stream", ExpectedVersion::Any, events)
            .await
            .unwrap();
        let other = NewEvent::new(
            "test.Noted",
            1,
            format!(r#"{{"b":{batch}}}"#),
            Metadata::new(),
        );
        store
            .append("o", "test.Stream", ExpectedVersion::Any, vec![other])
            .await
            .unwrap();
    }
    let (seen, runs) = visited_runs(&store, "b", 1, usize::MAX).await;
    assert_eq!(runs, [100, 100, 100, 100, 100, 12, 88, 100, 100]);
    assert!(seen.iter().zip(1..).all(|(r, v)| r.stream_version == v));
    let (seen, runs) = visited_runs(&store, "b", 150, usize::MAX).await;
    assert_eq!(runs, [51, 100, 100, 100, 100, 61, 39, 100]);
    assert_eq!(seen.first().map(|r| r.stream_version), Some(150));
    assert_eq!(seen.len(), 651);

    // The default lends runs of up to 256, whatever the layout.
    let (_, runs) = visited_runs(&Defaulted(store), "b", 1, usize::MAX).await;
    assert_eq!(runs, [256, 256, 256, 32]);
}

/// A store whose stream reads fail after `good` records.
struct FailsAfter {
    inner: Defaulted,
    good: usize,
}

#[async_trait]
impl EventStore for FailsAfter {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.inner
            .append(stream_id, aggregate_type, expected, events)
            .await
    }
    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        use futures::StreamExt;
        let good = self
            .inner
            .read_stream(stream_id, from_version)
            .take(self.good);
        let bad = futures::stream::once(async {
            Err(StoreError::Corrupt {
                global_position: 0,
                reason: "a broken row".into(),
            })
        });
        Box::pin(good.chain(bad))
    }
    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        self.inner.read_all(from_position, filter)
    }
    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        self.inner.subscribe(from_position, filter)
    }
    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream_id).await
    }
    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }
}

#[tokio::test]
async fn the_default_lends_the_records_before_a_failed_read_first() {
    let store = FailsAfter {
        inner: Defaulted(filled().await),
        good: 300,
    };
    // The visitor takes everything: it sees the 300 records, then the error.
    let mut seen = 0;
    let result = store
        .visit_stream("s-1", 1, &mut |records: &[RecordedEvent]| {
            seen += records.len();
            true
        })
        .await;
    assert_eq!(seen, 300);
    assert!(
        matches!(result, Err(StoreError::Corrupt { .. })),
        "{result:?}"
    );
    // A visitor that stops at one of them never hears of the failure.
    let result = store
        .visit_stream("s-1", 1, &mut |records: &[RecordedEvent]| {
            records.len() == 256
        })
        .await;
    assert!(result.is_ok(), "{result:?}");
}
