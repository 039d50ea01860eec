//! The generated code works where the runtime is only `es_renamed`.

use es_renamed::memory::{InMemorySagaStore, InMemoryStore};
use es_renamed::prelude::*;
use es_renamed::saga::SagaStore;
use es_renamed::testing::AggregateFixture;
use eventsource_tests_renamed::{
    Count, Counted, Counter, CounterEvent, NotCounting, Recount, Reset, ResetCounter, Totals,
};

#[test]
fn commands_run_through_the_renamed_runtime() {
    AggregateFixture::<Counter>::given([Counted { by: 2 }])
        .when(Count {
            id: "c".into(),
            by: 3,
        })
        .then_expect_events([Counted { by: 3 }])
        .then_expect_state(|c| assert_eq!(c.total, 5));
    AggregateFixture::<Counter>::new()
        .when(Count {
            id: "c".into(),
            by: 0,
        })
        .then_expect_error(NotCounting);
    AggregateFixture::<Counter>::given([Counted { by: 2 }])
        .when(ResetCounter(1))
        .then_expect_events([Reset {
            reason: "asked".into(),
        }]);
    assert_eq!(Counter::SNAPSHOT_EVERY, Some(3));
}

#[test]
fn old_records_are_upcast() {
    let registry = es_renamed::Registry::global();
    registry.validate().expect("a valid registry");
    assert_eq!(registry.upcasters().count(), 2);
    match CounterEvent::decode(&record("renamed.Incremented", "{}")).unwrap() {
        CounterEvent::Counted(counted) => assert_eq!(counted.by, 1),
        other => panic!("{other:?}"),
    }
    match CounterEvent::decode(&record("renamed.Reset", "{}")).unwrap() {
        CounterEvent::Reset(reset) => assert_eq!(reset.reason, "unknown"),
        other => panic!("{other:?}"),
    }
}

/// A stored record of event `name` at schema version 1.
fn record(name: &str, payload: &str) -> es_renamed::RecordedEvent {
    es_renamed::RecordedEvent {
        event_id: es_renamed::uuid::Uuid::now_v7(),
        stream_id: "renamed.Counter-c".into(),
        aggregate_type: "renamed.Counter".into(),
        stream_version: 1,
        global_position: 1,
        event_name: name.into(),
        schema_version: 1,
        payload: payload.into(),
        metadata: Metadata::default().into(),
        recorded_at: es_renamed::chrono::Utc::now(),
    }
}

/// A stored record of event `name` at its current version, 2.
fn current(name: &str, payload: &str) -> es_renamed::RecordedEvent {
    es_renamed::RecordedEvent {
        schema_version: 2,
        ..record(name, payload)
    }
}

#[tokio::test]
async fn projections_run_through_the_renamed_runtime() {
    assert_eq!(Totals::NAME, "renamed.totals");
    assert_eq!(Totals::EVENTS, ["renamed.Counted", "renamed.Reset"]);
    let mut totals = Totals::default();
    // Version 1 of `Counted` is upcast on its way in.
    assert!(
        totals
            .handle(&record("renamed.Incremented", "{}"), &mut ())
            .await
            .unwrap()
    );
    let current = current("renamed.Counted", r#"{"by":4}"#);
    assert!(totals.handle(&current, &mut ()).await.unwrap());
    assert_eq!(totals.total, 5);
    totals.reset(&mut ()).await.unwrap();
    assert_eq!((totals.total, totals.clears), (0, 1));
}

#[tokio::test]
async fn sagas_run_through_the_renamed_runtime() {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    let sagas = InMemorySagaStore::new();
    let mut processor = SagaProcessor::<Recount>::new(bus.clone(), sagas.clone());
    let reset = current("renamed.Reset", r#"{"reason":"asked"}"#);
    assert!(Recount::starts(&reset));
    assert!(processor.handle(&reset, &mut ()).await.unwrap());
    let recounted = bus.repository::<Counter>().load("recounted").await.unwrap();
    assert_eq!(recounted.unwrap().state.total, 1);
    let instances = sagas.list("renamed.recount").await.unwrap();
    assert!(instances[0].1.completed);
    assert_eq!(instances[0].1.state, r#"{"reason":"asked"}"#);
}
