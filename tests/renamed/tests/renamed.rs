//! The generated code works where the runtime is only `es_renamed`.

use es_renamed::prelude::*;
use es_renamed::testing::AggregateFixture;
use eventsource_tests_renamed::{
    Count, Counted, Counter, CounterEvent, NotCounting, Reset, ResetCounter,
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
    let record = |name: &str, payload: &str| es_renamed::RecordedEvent {
        event_id: es_renamed::uuid::Uuid::now_v7(),
        stream_id: "renamed.Counter-c".into(),
        aggregate_type: "renamed.Counter".into(),
        stream_version: 1,
        global_position: 1,
        event_name: name.into(),
        schema_version: 1,
        payload: payload.into(),
        metadata: Metadata::default(),
        recorded_at: es_renamed::chrono::Utc::now(),
    };
    match CounterEvent::decode(&record("renamed.Incremented", "{}")).unwrap() {
        CounterEvent::Counted(counted) => assert_eq!(counted.by, 1),
        other => panic!("{other:?}"),
    }
    match CounterEvent::decode(&record("renamed.Reset", "{}")).unwrap() {
        CounterEvent::Reset(reset) => assert_eq!(reset.reason, "unknown"),
        other => panic!("{other:?}"),
    }
}
