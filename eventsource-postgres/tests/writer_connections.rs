//! `PgStoreOptions::with_writer_connections`: appends, and aggregate loads,
//! on connections the store keeps between uses.

mod common;

use eventsource::store::{
    EventStore, ExpectedVersion, RecordFields, Snapshot, SnapshotStore, SnapshotWanted, StreamLoad,
};
use eventsource::{Metadata, NewEvent, RecordedEvent};
use eventsource_postgres::PgEventStore;
use futures::TryStreamExt;
use sqlx::PgPool;

const AGG: &str = "test.Thing";

fn tagged() -> String {
    format!("eventsource-writers-{:08x}", fastrand::u32(..))
}

async fn backends(pool: &PgPool, application: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
        .bind(application)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Ends every backend of `application` on the server, as a restart or a cut
/// network would, and waits until they are gone.
async fn terminate(admin: &PgPool, application: &str) {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(application)
    .fetch_all(admin)
    .await
    .unwrap();
    assert!(!killed.is_empty() && killed.iter().all(|&k| k));
    // Termination is asynchronous: wait (a bounded while) until they are gone.
    for _ in 0..100 {
        if backends(admin, application).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn stream(store: &PgEventStore, id: &str) -> Vec<RecordedEvent> {
    store.read_stream(id, 1).try_collect().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_keeping_connections_passes_the_conformance_suite() {
    let application = tagged();
    let pool = common::pool(4, &application).await;
    let report = common::conformance_on(&pool, |o| o.with_writer_connections(2)).await;
    let held = backends(&pool, &application).await;
    pool.close().await;
    report.assert_passed();
    // The pool's own four, plus what the last check's store may still keep.
    assert!(held <= 6, "{held} connections left open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_keep_at_most_the_limit_and_lose_nothing() {
    let application = tagged();
    let pool = common::pool(4, &application).await;
    let store = common::store_on(pool.clone(), |o| o.with_writer_connections(3)).await;
    let tasks: Vec<_> = (0..12)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = format!("w-{task}");
                for version in 0..25u64 {
                    let event = NewEvent::new(
                        "test.Happened",
                        1,
                        format!(r#"{{"v":{version}}}"#),
                        Metadata::new(),
                    );
                    let expected = ExpectedVersion::from_current((version > 0).then_some(version));
                    store.append(&id, AGG, expected, vec![event]).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    for task in 0..12 {
        let events = stream(&store, &format!("w-{task}")).await;
        assert_eq!(events.len(), 25);
        assert!(events.iter().zip(1..).all(|(e, v)| e.stream_version == v));
    }
    // The pool's four, plus the three kept ones at most.
    let held = backends(&pool, &application).await;
    assert!(held <= 7, "{held} connections for a pool of 4 and 3 kept");
    assert!(held >= 4, "{held}: the kept connections are still open");
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn an_append_on_a_kept_connection_that_died_lands_once() {
    let application = tagged();
    // This pool tests connections before handing them out, so the retry
    // finds a live one after the server dropped them all.
    let pool = common::pool(2, &application).await;
    let store = common::store_on(pool, |o| o.with_writer_connections(1)).await;
    let first = common::batch(1);
    store
        .append("s", AGG, ExpectedVersion::NoStream, first)
        .await
        .unwrap();

    let admin = common::pool(1, "eventsource-writers-admin").await;
    terminate(&admin, &application).await;

    let second = store
        .append("s", AGG, ExpectedVersion::Exact(1), common::batch(1))
        .await
        .unwrap();
    assert_eq!((second.first_version, second.last_version), (2, 2));
    assert!(!second.replayed);
    let third = store
        .append("s", AGG, ExpectedVersion::Exact(2), common::batch(1))
        .await
        .unwrap();
    assert_eq!(third.last_version, 3);
    assert_eq!(stream(&store, "s").await.len(), 3);
    common::drop_schema(&store).await;
    admin.close().await;
}

/// What a load through `visit_stream_after_snapshot` was given: the
/// snapshot's version, if it took one, and the versions of the events.
#[derive(Default)]
struct Collected {
    snapshot: Option<u64>,
    versions: Vec<u64>,
}

impl StreamLoad for Collected {
    fn snapshot(&mut self, snapshot: &Snapshot) -> bool {
        self.snapshot = Some(snapshot.version);
        true
    }

    fn events(&mut self, records: &[RecordedEvent]) -> bool {
        self.versions
            .extend(records.iter().map(|r| r.stream_version));
        true
    }
}

/// The snapshot and events after it, as an aggregate load reads them.
async fn load_after_snapshot(store: &PgEventStore, id: &str) -> Collected {
    let home = SnapshotStore::home(store).unwrap();
    let mut collected = Collected::default();
    let read = store
        .visit_stream_after_snapshot(id, &home, SnapshotWanted::new(0, u64::MAX), &mut collected)
        .await
        .unwrap();
    assert!(read, "the store reads its own snapshots with the events");
    collected
}

/// The versions of `id` from `from`, read as a replay reads them, up to
/// `until` (where the visitor stops the read).
async fn replay(store: &PgEventStore, id: &str, from: u64, until: u64) -> Vec<u64> {
    let mut versions = Vec::new();
    store
        .visit_stream_with(id, from, RecordFields::REPLAY, &mut |records| {
            for record in records {
                if record.stream_version > until {
                    return false;
                }
                versions.push(record.stream_version);
            }
            true
        })
        .await
        .unwrap();
    versions
}

async fn save_snapshot(store: &PgEventStore, id: &str, version: u64) {
    SnapshotStore::save(
        store,
        Snapshot {
            stream_id: id.into(),
            aggregate_type: AGG.into(),
            version,
            revision: 0,
            state: "{}".into(),
            taken_at: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_borrow_an_idle_kept_connection_instead_of_the_pool() {
    let application = tagged();
    let pool = common::pool(1, &application).await;
    let store = common::store_on(pool.clone(), |o| o.with_writer_connections(1)).await;
    // The append detaches the pool's connection and keeps it.
    store
        .append("s", AGG, ExpectedVersion::NoStream, common::batch(5))
        .await
        .unwrap();
    save_snapshot(&store, "s", 2).await;
    // With the pool's only connection held, a load that needed the pool
    // would wait for it.
    let held = pool.acquire().await.unwrap();
    let loads = async {
        let collected = load_after_snapshot(&store, "s").await;
        assert_eq!(collected.snapshot, Some(2));
        assert_eq!(collected.versions, [3, 4, 5]);
        assert_eq!(replay(&store, "s", 1, u64::MAX).await, [1, 2, 3, 4, 5]);
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), loads)
        .await
        .expect("the loads ran on the kept connection");
    // The kept connection went back after each load: the next append has it.
    let next = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        store.append("s", AGG, ExpectedVersion::Exact(5), common::batch(1)),
    )
    .await
    .expect("the append ran on the kept connection")
    .unwrap();
    assert_eq!(next.last_version, 6);
    drop(held);
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_stopped_early_leaves_its_kept_connection_ready() {
    let application = tagged();
    let pool = common::pool(1, &application).await;
    let store = common::store_on(pool.clone(), |o| o.with_writer_connections(1)).await;
    store
        .append("s", AGG, ExpectedVersion::NoStream, common::batch(600))
        .await
        .unwrap();
    let held = pool.acquire().await.unwrap();
    // The visitor stops at version 3 of 600: the rest of the rows are read
    // off the kept connection before it serves the next statement.
    assert_eq!(replay(&store, "s", 1, 3).await, [1, 2, 3]);
    let next = store
        .append("s", AGG, ExpectedVersion::Exact(600), common::batch(1))
        .await
        .unwrap();
    assert_eq!(next.last_version, 601);
    assert_eq!(replay(&store, "s", 599, u64::MAX).await, [599, 600, 601]);
    drop(held);
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn a_load_on_a_kept_connection_that_died_runs_again_on_the_pool() {
    let application = tagged();
    // This pool tests connections before handing them out, so the second
    // run finds a live one after the server dropped them all.
    let pool = common::pool(2, &application).await;
    let store = common::store_on(pool, |o| o.with_writer_connections(1)).await;
    store
        .append("s", AGG, ExpectedVersion::NoStream, common::batch(3))
        .await
        .unwrap();
    save_snapshot(&store, "s", 1).await;

    let admin = common::pool(1, "eventsource-writers-admin").await;
    let mut head = 3;
    for snapshot_read in [true, false] {
        terminate(&admin, &application).await;
        // The first load after the kill finds the kept connection dead.
        if snapshot_read {
            let collected = load_after_snapshot(&store, "s").await;
            assert_eq!(collected.snapshot, Some(1));
            assert_eq!(collected.versions, (2..=head).collect::<Vec<_>>());
        } else {
            assert_eq!(
                replay(&store, "s", 1, u64::MAX).await,
                (1..=head).collect::<Vec<_>>()
            );
        }
        // The next load and append keep a new connection.
        assert_eq!(
            replay(&store, "s", 2, u64::MAX).await,
            (2..=head).collect::<Vec<_>>()
        );
        let next = store
            .append("s", AGG, ExpectedVersion::Exact(head), common::batch(1))
            .await
            .unwrap();
        head += 1;
        assert_eq!(next.last_version, head);
    }
    common::drop_schema(&store).await;
    admin.close().await;
}
