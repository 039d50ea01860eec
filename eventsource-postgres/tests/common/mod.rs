//! Shared set-up for the PostgreSQL tests: a server from `DATABASE_URL` and
//! a fresh schema per store, dropped when the test is done with it.
//!
//! There is no fallback and no skipping: without `DATABASE_URL` every test
//! fails and says how to get a server.

#![allow(dead_code, unreachable_pub)]

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use eventsource::store::{EventFilter, EventStore, SubscriptionItem};
use eventsource::testing::conformance::{self, ConformanceReport, Subject};
use eventsource::{Metadata, NewEvent};
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::StreamExt;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::sync::mpsc;

/// Test schemas are named `es_t_<unix seconds>_<random>`.
const PREFIX: &str = "es_t_";

/// Schemas left behind by crashed runs are dropped once they are this old.
const STALE_AFTER_SECS: u64 = 3_600;

pub fn database_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "DATABASE_URL is not set: set DATABASE_URL or run ./scripts/test, which finds or \
             starts a PostgreSQL server (it needs the PostgreSQL server binaries, e.g. \
             `apt-get install postgresql`)"
        ),
    }
}

/// A pool of up to `size` connections, tagged with `application_name`.
pub async fn pool(size: u32, application_name: &str) -> PgPool {
    pool_with(size, application_name, true).await
}

/// Like [`pool`]; `ping`: whether the pool tests connections before handing them out.
pub async fn pool_with(size: u32, application_name: &str, ping: bool) -> PgPool {
    let url = database_url();
    let options = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("DATABASE_URL is not a PostgreSQL URL ({e})"))
        .application_name(application_name);
    PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(ping)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to DATABASE_URL ({e}); run ./scripts/test to start a \
                 throwaway PostgreSQL server"
            )
        })
}

pub fn unique_schema() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{PREFIX}{secs}_{:08x}", fastrand::u32(..))
}

/// A migrated store in a new schema, on a pool of `size` connections.
pub async fn store_with(
    size: u32,
    configure: impl FnOnce(PgStoreOptions) -> PgStoreOptions,
) -> PgEventStore {
    store_on(pool(size, "eventsource-tests").await, configure).await
}

/// A migrated store in a new schema, on `pool` (which other stores may share).
pub async fn store_on(
    pool: PgPool,
    configure: impl FnOnce(PgStoreOptions) -> PgStoreOptions,
) -> PgEventStore {
    sweep_stale_schemas(&pool).await;
    let options = configure(PgStoreOptions::new(&unique_schema()).expect("valid schema name"));
    let store = PgEventStore::with_options(pool, options);
    store.migrate().await.expect("migrations apply");
    store
}

/// A migrated store in a new schema.
pub async fn store() -> PgEventStore {
    store_with(8, |o| o).await
}

/// Another store on the same schema as `store`, on its own pool (like
/// another process).
pub async fn same_schema_unpinged(
    store: &PgEventStore,
    application_name: &str,
    configure: impl FnOnce(PgStoreOptions) -> PgStoreOptions,
) -> PgEventStore {
    let pool = pool_with(8, application_name, false).await;
    PgEventStore::with_options(pool, configure(store.options().clone()))
}

pub async fn same_schema(
    store: &PgEventStore,
    application_name: &str,
    configure: impl FnOnce(PgStoreOptions) -> PgStoreOptions,
) -> PgEventStore {
    let pool = pool(8, application_name).await;
    PgEventStore::with_options(pool, configure(store.options().clone()))
}

/// Runs the conformance suite on `pool`, with a fresh store built with
/// `configure` per check, then drops the schemas it made. Only their names
/// are kept, so each store (and any connection it keeps) goes when its
/// check is done.
pub async fn conformance_on(
    pool: &PgPool,
    configure: fn(PgStoreOptions) -> PgStoreOptions,
) -> ConformanceReport {
    let schemas = Arc::new(Mutex::new(Vec::new()));
    let report = conformance::run(|| {
        let schemas = schemas.clone();
        let pool = pool.clone();
        async move {
            let store = store_on(pool, configure).await;
            schemas.lock().unwrap().push(store.schema().to_owned());
            Subject::new(store.clone(), store.clone(), store)
        }
    })
    .await;
    println!("{report}");
    let names: Vec<String> = schemas.lock().unwrap().drain(..).collect();
    for name in names {
        let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(pool)
            .await
            .expect("drop a test schema");
    }
    report
}

pub async fn drop_schema(store: &PgEventStore) {
    let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", store.schema());
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("drop the test schema");
}

/// Drops test schemas older than an hour (left by runs that crashed), once
/// per test binary.
async fn sweep_stale_schemas(pool: &PgPool) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(PREFIX)
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    for name in names {
        let created = name[PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t + STALE_AFTER_SECS < now) {
            let sql = format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE");
            // Another binary may be sweeping too; losing that race is fine.
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(pool).await;
        }
    }
}

/// `n` events of one test type, with payloads `{"i": 0}` to `{"i": n - 1}`.
pub fn batch(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| {
            NewEvent::new(
                "test.Happened",
                1,
                format!(r#"{{"i":{i}}}"#),
                Metadata::new(),
            )
        })
        .collect()
}

/// Forwards the items of a subscription from the start of the log until the
/// receiver goes away.
pub fn tail(
    store: &PgEventStore,
    filter: EventFilter,
) -> mpsc::UnboundedReceiver<SubscriptionItem> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut sub = store.subscribe(0, filter);
    tokio::spawn(async move {
        while let Some(item) = sub.next().await {
            let item = item.unwrap_or_else(|e| panic!("the subscription failed: {e}"));
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx
}
