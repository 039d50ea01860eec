//! The store conformance suite against PostgreSQL, a fresh schema per check.

mod common;

use std::sync::{Arc, Mutex};

use eventsource::testing::conformance::{self, Subject};

/// Connections of the one pool every check shares.
const POOL_SIZE: u32 = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_suite() {
    // One pool for the whole suite: a pool per check, each kept open until
    // the end, would hold dozens of connections and could exhaust a server
    // with the default max_connections = 100.
    let application = format!("eventsource-conformance-{:08x}", fastrand::u32(..));
    let pool = common::pool(POOL_SIZE, &application).await;
    let created = Arc::new(Mutex::new(Vec::new()));
    let report = conformance::run(|| {
        let created = created.clone();
        let pool = pool.clone();
        async move {
            let store = common::store_on(pool, |o| o).await;
            created.lock().unwrap().push(store.clone());
            Subject::new(store.clone(), store.clone(), store)
        }
    })
    .await;
    println!("{report}");
    let held: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(&application)
            .fetch_one(&pool)
            .await
            .unwrap();
    let stores: Vec<_> = created.lock().unwrap().drain(..).collect();
    for store in &stores {
        common::drop_schema(store).await;
    }
    drop(stores);
    pool.close().await;
    report.assert_passed();
    assert!(
        held <= i64::from(POOL_SIZE),
        "the suite held {held} connections, more than its pool of {POOL_SIZE}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_saga_store_keeps_deadlines_by_the_rules() {
    let pool = common::pool(POOL_SIZE, "eventsource-conformance-deadlines").await;
    let created = Arc::new(Mutex::new(Vec::new()));
    let report = conformance::run_deadlines(|| {
        let created = created.clone();
        let pool = pool.clone();
        async move {
            let store = common::store_on(pool, |o| o).await;
            created.lock().unwrap().push(store.clone());
            store.saga_store()
        }
    })
    .await;
    let stores: Vec<_> = created.lock().unwrap().drain(..).collect();
    for store in &stores {
        common::drop_schema(store).await;
    }
    report.assert_passed();
}
