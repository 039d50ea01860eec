//! The store conformance suite against the in-memory stores.

use eventsource::memory::{InMemoryCheckpointStore, InMemoryStore};
use eventsource::store::{
    AppendResult, EventStream, StoredEventType, StreamQuery, StreamSummary, Subscription,
    SubscriptionItem,
};
use eventsource::testing::conformance::{self, Subject};
use eventsource::{EventFilter, EventStore, ExpectedVersion, NewEvent, StoreError};
use futures::StreamExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_passes_the_conformance_suite() {
    let report = conformance::run(|| async {
        let store = InMemoryStore::new();
        Subject::new(store.clone(), store, InMemoryCheckpointStore::new())
    })
    .await;
    println!("{report}");
    report.assert_passed();
}

/// A store that ignores expected versions and delivers every other event twice:
/// the suite must notice both.
#[derive(Clone, Default)]
struct Broken(InMemoryStore);

#[async_trait::async_trait]
impl EventStore for Broken {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        _expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.0
            .append(stream_id, aggregate_type, ExpectedVersion::Any, events)
            .await
    }

    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        self.0.read_stream(stream_id, from_version)
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        self.0.read_all(from_position, filter)
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        Box::pin(self.0.subscribe(from_position, filter).flat_map(|item| {
            let twice =
                matches!(&item, Ok(SubscriptionItem::Event(e)) if e.global_position % 2 == 0);
            let copies = if twice {
                vec![clone(&item), item]
            } else {
                vec![item]
            };
            futures::stream::iter(copies)
        }))
    }

    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.0.stream_version(stream_id).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        self.0.head_position().await
    }

    async fn streams(&self, query: &StreamQuery) -> Result<Vec<StreamSummary>, StoreError> {
        // Ignores the limit.
        let unlimited = StreamQuery {
            limit: usize::MAX,
            ..query.clone()
        };
        self.0.streams(&unlimited).await
    }

    async fn event_types(&self) -> Result<Vec<StoredEventType>, StoreError> {
        // Loses where each type was first stored.
        let mut types = self.0.event_types().await?;
        for t in &mut types {
            t.first_position = t.last_position;
        }
        Ok(types)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_reports_every_broken_rule() {
    let report = conformance::run(|| async {
        let store = Broken::default();
        Subject::new(store.clone(), store.0, InMemoryCheckpointStore::new())
    })
    .await;
    assert!(!report.passed());
    let failed: Vec<&str> = report.failures().map(|f| f.name).collect();
    for expected in [
        "appends::no_stream_conflicts_when_the_stream_exists",
        "appends::exact_conflict_reports_the_actual_version",
        "subscriptions::history_then_live",
        "subscriptions::concurrent_appends_arrive_once_in_order",
        "catalog::streams_are_listed_with_their_heads",
        "catalog::event_types_count_names_and_versions",
    ] {
        assert!(failed.contains(&expected), "{expected} passed:\n{report}");
    }
    assert!(!failed.contains(&"snapshots::save_and_load"), "{report}");
    let panic = std::panic::catch_unwind(|| report.assert_passed()).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(message.contains("FAIL  appends::no_stream_conflicts_when_the_stream_exists"));
}

#[tokio::test]
async fn a_filter_matching_no_check_does_not_pass() {
    let report = conformance::run_matching("no such check", || async {
        let store = InMemoryStore::new();
        Subject::new(store.clone(), store, InMemoryCheckpointStore::new())
    })
    .await;
    assert!(!report.passed());
    assert_eq!(conformance::check_names().count(), 51);
}

fn clone(item: &Result<SubscriptionItem, StoreError>) -> Result<SubscriptionItem, StoreError> {
    match item {
        Ok(item) => Ok(item.clone()),
        Err(e) => Err(StoreError::invalid(e.to_string())),
    }
}

#[tokio::test]
async fn the_in_memory_saga_store_keeps_deadlines_by_the_rules() {
    conformance::run_deadlines(|| async { eventsource::memory::InMemorySagaStore::new() })
        .await
        .assert_passed();
}

#[tokio::test]
async fn the_in_memory_key_store_passes_the_key_checks() {
    let report = conformance::run_key_store(|| async {
        std::sync::Arc::new(eventsource::shredding::InMemoryKeyStore::new())
            as std::sync::Arc<dyn eventsource::shredding::KeyStore>
    })
    .await;
    report.assert_passed();
    assert_eq!(report.results().len(), 3);
}
