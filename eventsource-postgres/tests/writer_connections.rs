//! `PgStoreOptions::with_writer_connections`: appends on connections the
//! store keeps between appends.

mod common;

use eventsource::store::{EventStore, ExpectedVersion};
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
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&application)
    .fetch_all(&admin)
    .await
    .unwrap();
    assert!(!killed.is_empty() && killed.iter().all(|&k| k));
    // Termination is asynchronous: wait until the backends are gone.
    for _ in 0..100 {
        if backends(&admin, &application).await == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

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
