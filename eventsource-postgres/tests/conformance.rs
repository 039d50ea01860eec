//! The store conformance suite against PostgreSQL, a fresh schema per check.

mod common;

use std::sync::{Arc, Mutex};

use eventsource::testing::conformance::{self, Subject};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_suite() {
    let created = Arc::new(Mutex::new(Vec::new()));
    let report = conformance::run(|| {
        let created = created.clone();
        async move {
            let store = common::store_with(6, |o| o).await;
            created.lock().unwrap().push(store.clone());
            Subject::new(store.clone(), store.clone(), store)
        }
    })
    .await;
    println!("{report}");
    let stores: Vec<_> = created.lock().unwrap().drain(..).collect();
    for store in &stores {
        common::drop_schema(store).await;
        store.pool().close().await;
    }
    report.assert_passed();
}
