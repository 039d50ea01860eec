//! PostgreSQL-specific behaviour beyond the conformance suite.

mod common;

use std::time::Duration;

use eventsource::store::{
    CheckpointStore, EventFilter, EventStore, ExpectedVersion, Snapshot, SnapshotStore,
    SubscriptionItem,
};
use eventsource::{Metadata, NewEvent, RecordedEvent, StoreError};
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::{StreamExt, TryStreamExt};

const AGG: &str = "test.Thing";

async fn all(store: &PgEventStore) -> Vec<RecordedEvent> {
    store
        .read_all(0, EventFilter::all())
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn migrations_are_idempotent_and_safe_to_race() {
    let pool = common::pool(8, "eventsource-tests").await;
    let options = PgStoreOptions::new(&common::unique_schema()).unwrap();
    let stores: Vec<_> = (0..4)
        .map(|_| PgEventStore::with_options(pool.clone(), options.clone()))
        .collect();
    let runs = futures::future::join_all(stores.iter().map(|s| s.migrate())).await;
    let mut applied: Vec<i32> = runs.into_iter().flat_map(Result::unwrap).collect();
    applied.sort_unstable();
    let all: Vec<i32> = eventsource_postgres::migrate::MIGRATIONS
        .iter()
        .map(|m| m.version)
        .collect();
    assert_eq!(applied, all, "each migration applies exactly once");
    assert!(stores[0].migrate().await.unwrap().is_empty());
    common::drop_schema(&stores[0]).await;
}

#[test]
fn schema_names_are_validated() {
    for bad in ["", "Shop", "shop-1", "shop\"; drop table x; --", "pg_temp"] {
        assert!(PgStoreOptions::new(bad).is_err(), "{bad:?} was accepted");
    }
    let err = PgStoreOptions::new("a b").unwrap_err();
    assert_eq!(err.value, "a b");
    assert!(matches!(StoreError::from(err), StoreError::Invalid(_)));
    assert!(
        PgStoreOptions::default()
            .with_notify_channel(Some("Bad"))
            .is_err()
    );
}

#[tokio::test]
async fn schemas_isolate_stores() {
    let a = common::store().await;
    let b = common::store().await;
    a.append("s", AGG, ExpectedVersion::NoStream, common::batch(2))
        .await
        .unwrap();
    assert!(all(&b).await.is_empty());
    b.append("s", AGG, ExpectedVersion::NoStream, common::batch(1))
        .await
        .unwrap();
    assert_eq!(a.stream_version("s").await.unwrap(), Some(2));
    common::drop_schema(&a).await;
    common::drop_schema(&b).await;
}

#[tokio::test]
async fn positions_come_from_the_transaction_id() {
    let store = common::store().await;
    let r = store
        .append("s", AGG, ExpectedVersion::NoStream, common::batch(3))
        .await
        .unwrap();
    let sql = format!(
        "SELECT transaction_id::text::bigint, global_position FROM \"{}\".events ORDER BY global_position",
        store.schema()
    );
    let rows: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap();
    let xid = rows[0].0;
    let positions: Vec<i64> = rows.iter().map(|(_, p)| *p).collect();
    assert_eq!(
        positions,
        [xid * 65536 + 1, xid * 65536 + 2, xid * 65536 + 3]
    );
    assert_eq!(
        (r.first_position, r.last_position),
        (positions[0] as u64, positions[2] as u64)
    );
    assert!(
        rows.iter().all(|(x, _)| *x == xid),
        "one append is one transaction"
    );
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn a_big_batch_is_one_append_and_reads_back_in_pages() {
    let store = common::store_with(4, |o| o.with_page_size(333)).await;
    let events = common::batch(20_000);
    let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
    let r = store
        .append("big", AGG, ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    assert_eq!((r.first_version, r.last_version), (1, 20_000));
    let stream: Vec<RecordedEvent> = store.read_stream("big", 1).try_collect().await.unwrap();
    assert_eq!(stream.iter().map(|e| e.event_id).collect::<Vec<_>>(), ids);
    let tail: Vec<RecordedEvent> = store
        .read_stream("big", 19_990)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tail.len(), 11);
    let global = all(&store).await;
    assert_eq!(global.iter().map(|e| e.event_id).collect::<Vec<_>>(), ids);
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn limits_and_bad_input_are_invalid_and_write_nothing() {
    let store = common::store().await;
    let too_many = store
        .append("s", AGG, ExpectedVersion::Any, common::batch(65_536))
        .await;
    assert!(
        matches!(too_many, Err(StoreError::Invalid(_))),
        "{too_many:?}"
    );
    let not_json = vec![NewEvent::new(
        "test.Happened",
        1,
        "{not json",
        Metadata::new(),
    )];
    let result = store.append("s", AGG, ExpectedVersion::Any, not_json).await;
    assert!(
        matches!(result, Err(StoreError::Invalid(ref m)) if m.to_string().contains("JSON")),
        "{result:?}"
    );
    let nul = vec![NewEvent::new(
        "test.Happened",
        1,
        r#"{"a":"\u0000"}"#,
        Metadata::new(),
    )];
    let result = store.append("s", AGG, ExpectedVersion::Any, nul).await;
    assert!(matches!(result, Err(StoreError::Invalid(_))), "{result:?}");
    let huge = store
        .append("s", AGG, ExpectedVersion::Exact(u64::MAX), common::batch(1))
        .await;
    assert!(matches!(huge, Err(StoreError::Invalid(_))), "{huge:?}");
    assert!(all(&store).await.is_empty());
    let snapshot = Snapshot {
        stream_id: "s".into(),
        aggregate_type: AGG.into(),
        version: 1,
        revision: 1,
        state: "nope".into(),
        taken_at: chrono::Utc::now(),
    };
    assert!(matches!(
        SnapshotStore::save(&store, snapshot).await,
        Err(StoreError::Invalid(_))
    ));
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn one_transaction_holds_at_most_65535_events() {
    let store = common::store().await;
    let mut tx = store.pool().begin().await.unwrap();
    store
        .append_in(
            &mut tx,
            "a",
            AGG,
            ExpectedVersion::NoStream,
            common::batch(65_535),
        )
        .await
        .unwrap();
    let over = store
        .append_in(
            &mut tx,
            "b",
            AGG,
            ExpectedVersion::NoStream,
            common::batch(1),
        )
        .await;
    assert!(
        matches!(over, Err(StoreError::Invalid(ref m)) if m.to_string().contains("65535")),
        "{over:?}"
    );
    tx.rollback().await.unwrap();
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn append_in_shares_the_callers_transaction() {
    let store = common::store().await;
    let mut tx = store.pool().begin().await.unwrap();
    let first = common::batch(2);
    let a = store
        .append_in(&mut tx, "a", AGG, ExpectedVersion::NoStream, first.clone())
        .await
        .unwrap();
    let b = store
        .append_in(
            &mut tx,
            "b",
            AGG,
            ExpectedVersion::NoStream,
            common::batch(1),
        )
        .await
        .unwrap();
    let a2 = store
        .append_in(
            &mut tx,
            "a",
            AGG,
            ExpectedVersion::Exact(2),
            common::batch(1),
        )
        .await
        .unwrap();
    assert!(a.last_position < b.first_position && b.last_position < a2.first_position);
    assert_eq!(
        a.first_position >> 16,
        a2.last_position >> 16,
        "one transaction, one id"
    );
    // A retry of the first batch inside the same transaction is a replay.
    let again = store
        .append_in(&mut tx, "a", AGG, ExpectedVersion::NoStream, first)
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.first_position, a.first_position);
    // Not visible outside until committed.
    assert!(all(&store).await.is_empty());
    assert_eq!(store.stream_version("a").await.unwrap(), None);
    tx.rollback().await.unwrap();
    assert!(
        all(&store).await.is_empty(),
        "a rolled-back append is visible"
    );

    let mut tx = store.pool().begin().await.unwrap();
    store
        .append_in(
            &mut tx,
            "a",
            AGG,
            ExpectedVersion::NoStream,
            common::batch(2),
        )
        .await
        .unwrap();
    store.save_checkpoint_in(&mut tx, "p", 7).await.unwrap();
    tx.commit().await.unwrap();
    store.wake_subscribers();
    assert_eq!(all(&store).await.len(), 2);
    assert_eq!(CheckpointStore::load(&store, "p").await.unwrap(), Some(7));
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn append_in_refuses_to_order_a_stream_backwards() {
    let store = common::store().await;
    let mut old = store.pool().begin().await.unwrap();
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *old)
        .await
        .unwrap();
    // A younger transaction writes the stream and commits first.
    store
        .append("s", AGG, ExpectedVersion::NoStream, common::batch(1))
        .await
        .unwrap();
    let result = store
        .append_in(
            &mut old,
            "s",
            AGG,
            ExpectedVersion::Exact(1),
            common::batch(1),
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::Invalid(ref m)) if m.to_string().contains("new transaction")),
        "{result:?}"
    );
    old.rollback().await.unwrap();
    // In a new transaction the same append works.
    let mut tx = store.pool().begin().await.unwrap();
    store
        .append_in(
            &mut tx,
            "s",
            AGG,
            ExpectedVersion::Exact(1),
            common::batch(1),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let stream: Vec<RecordedEvent> = store.read_stream("s", 1).try_collect().await.unwrap();
    assert!(stream[0].global_position < stream[1].global_position);
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn append_in_reports_a_lost_race_as_a_conflict() {
    let store = common::store().await;
    let mut first = store.pool().begin().await.unwrap();
    store
        .append_in(
            &mut first,
            "s",
            AGG,
            ExpectedVersion::NoStream,
            common::batch(1),
        )
        .await
        .unwrap();
    let racer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut second = store.pool().begin().await.unwrap();
            // Blocks on the first transaction's row until it commits.
            store
                .append_in(
                    &mut second,
                    "s",
                    AGG,
                    ExpectedVersion::Any,
                    common::batch(1),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.commit().await.unwrap();
    match racer.await.unwrap() {
        Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, Some(1)),
        other => panic!("expected a conflict, got {other:?}"),
    }
    common::drop_schema(&store).await;
}

/// The heart of the design, observed directly: an event committed by a
/// younger transaction waits until the older one holding lower positions
/// finishes, then both arrive in position order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_wait_for_an_older_open_transaction() {
    let store = common::store().await;
    let mut slow = store.pool().begin().await.unwrap();
    let older = store
        .append_in(
            &mut slow,
            "slow",
            AGG,
            ExpectedVersion::NoStream,
            common::batch(1),
        )
        .await
        .unwrap();
    let younger = store
        .append("fast", AGG, ExpectedVersion::NoStream, common::batch(1))
        .await
        .unwrap();
    assert!(older.first_position < younger.first_position);
    assert_eq!(store.head_position().await.unwrap(), younger.last_position);

    let mut sub = store.subscribe(0, EventFilter::all());
    match sub.next().await {
        Some(Ok(SubscriptionItem::CaughtUp { position })) => {
            assert!(
                position < older.first_position,
                "CaughtUp {position} claims the open transaction's range"
            )
        }
        other => panic!("expected CaughtUp below the open transaction, got {other:?}"),
    }
    let reader = {
        let store = store.clone();
        tokio::spawn(async move { all(&store).await })
    };
    // For a while, nothing may be delivered, nor claimed covered, at or past
    // the open transaction's positions.
    let _ = tokio::time::timeout(Duration::from_millis(300), async {
        while let Some(item) = sub.next().await {
            match item {
                Ok(SubscriptionItem::CaughtUp { position }) => assert!(
                    position < older.first_position,
                    "CaughtUp {position} claims the open transaction's range"
                ),
                other => panic!("the subscription delivered past an open transaction: {other:?}"),
            }
        }
    })
    .await;
    assert!(
        !reader.is_finished(),
        "read_all finished while a lower position could still commit"
    );

    slow.commit().await.unwrap();
    let read = reader.await.unwrap();
    let streams: Vec<&str> = read.iter().map(|e| &*e.stream_id).collect();
    assert_eq!(streams, ["slow", "fast"]);
    let mut delivered = Vec::new();
    while delivered.len() < 2 {
        match tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
        {
            Some(Ok(SubscriptionItem::Event(e))) => delivered.push(e.stream_id.to_string()),
            Some(Ok(SubscriptionItem::CaughtUp { .. })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(delivered, ["slow", "fast"]);
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn a_rolled_back_older_transaction_releases_readers() {
    let store = common::store_with(8, |o| o.with_poll_interval(Duration::from_secs(60))).await;
    let mut doomed = store.pool().begin().await.unwrap();
    store
        .append_in(
            &mut doomed,
            "doomed",
            AGG,
            ExpectedVersion::NoStream,
            common::batch(1),
        )
        .await
        .unwrap();
    let kept = store
        .append("kept", AGG, ExpectedVersion::NoStream, common::batch(1))
        .await
        .unwrap();
    let mut sub = store.subscribe(0, EventFilter::all());
    tokio::time::sleep(Duration::from_millis(100)).await;
    doomed.rollback().await.unwrap();
    // No append follows to wake it: the re-check (not the 60 s poll) must.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, sub.next())
            .await
            .expect("delivered within 5 s")
        {
            Some(Ok(SubscriptionItem::Event(e))) => {
                assert_eq!(e.global_position, kept.first_position);
                break;
            }
            Some(Ok(SubscriptionItem::CaughtUp { .. })) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn connect_builds_a_working_store() {
    let options = PgStoreOptions::new(&common::unique_schema()).unwrap();
    let store = PgEventStore::connect_with(&common::database_url(), options)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store
        .append("s", AGG, ExpectedVersion::NoStream, common::batch(1))
        .await
        .unwrap();
    assert_eq!(store.stream_version("s").await.unwrap(), Some(1));
    assert!(format!("{store:?}").contains(store.schema()));
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn count_events_counts_what_read_all_delivers() {
    let store = common::store().await;
    assert_eq!(
        store.count_events(0, EventFilter::all()).await.unwrap(),
        0,
        "an empty log"
    );
    let other = |n: usize| {
        (0..n)
            .map(|i| NewEvent::new("test.Other", 1, format!(r#"{{"i":{i}}}"#), Metadata::new()))
            .collect::<Vec<_>>()
    };
    store
        .append("a", AGG, ExpectedVersion::NoStream, common::batch(3))
        .await
        .unwrap();
    store
        .append("b", "test.Other", ExpectedVersion::NoStream, other(2))
        .await
        .unwrap();
    let since = chrono::Utc::now();
    store
        .append("a", AGG, ExpectedVersion::Exact(3), common::batch(4))
        .await
        .unwrap();
    let events = all(&store).await;
    let filters = [
        EventFilter::all(),
        EventFilter::all().with_event_names(["test.Happened"]),
        EventFilter::all().with_event_names(["test.Other", "test.None"]),
        EventFilter::all().with_aggregate_types(["test.Other"]),
        EventFilter::all().with_recorded_since(since),
        EventFilter::all()
            .with_event_names(["test.Happened"])
            .with_aggregate_types([AGG])
            .with_recorded_since(since),
    ];
    let mut froms = vec![0, 1, u64::MAX];
    froms.extend(events.iter().map(|e| e.global_position));
    froms.extend(events.iter().map(|e| e.global_position + 1));
    for filter in &filters {
        for &from in &froms {
            let read: Vec<RecordedEvent> = store
                .read_all(from, filter.clone())
                .try_collect()
                .await
                .unwrap();
            let counted = store.count_events(from, filter.clone()).await.unwrap();
            assert_eq!(counted, read.len() as u64, "from {from}, filter {filter:?}");
        }
    }
    assert_eq!(store.count_events(0, EventFilter::all()).await.unwrap(), 9);

    // Like read_all, the count waits for an older open transaction that may
    // still commit below the head, and then includes what it committed.
    let mut slow = store.pool().begin().await.unwrap();
    store
        .append_in(
            &mut slow,
            "slow",
            AGG,
            ExpectedVersion::NoStream,
            common::batch(2),
        )
        .await
        .unwrap();
    store
        .append("fast", AGG, ExpectedVersion::NoStream, common::batch(1))
        .await
        .unwrap();
    let counter = {
        let store = store.clone();
        tokio::spawn(async move { store.count_events(0, EventFilter::all()).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !counter.is_finished(),
        "count_events finished while a lower position could still commit"
    );
    slow.commit().await.unwrap();
    assert_eq!(counter.await.unwrap().unwrap(), 12);
    common::drop_schema(&store).await;
}
