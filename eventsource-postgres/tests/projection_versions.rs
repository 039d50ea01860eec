//! Versions of a projection on PostgreSQL, across two "processes" (two
//! stores on their own pools): the new version builds its own table in the
//! background, takes over when live, and the old process retires its version
//! and drops its table; a program handling other events under a recorded
//! version is refused.

mod common;

use std::time::Duration;

use eventsource::prelude::*;
use eventsource::projection::{ProjectionBackend, ProjectionState, RunnerError, RunnerOptions};
use eventsource_postgres::PgEventStore;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgver.Sold")]
struct Sold {
    till: String,
    amount: i64,
}

/// Version 1: sales per till, in `<schema>.sales_v1`.
struct SalesV1 {
    schema: String,
}

#[projection(name = "pgver.sales")]
impl SalesV1 {
    async fn on_sold(&mut self, e: &Sold, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        upsert(ctx, &self.schema, 1, &e.till, e.amount).await
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        truncate(ctx, &self.schema, 1).await
    }

    #[retire]
    async fn drop_table(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let sql = format!("DROP TABLE IF EXISTS \"{}\".sales_v1", self.schema);
        sqlx::query(AssertSqlSafe(sql)).execute(ctx).await?;
        Ok(())
    }
}

/// Version 2: the same, counted in cents, in a table named for its version.
struct SalesV2 {
    schema: String,
}

#[projection(name = "pgver.sales", version = 2)]
impl SalesV2 {
    async fn on_sold(&mut self, e: &Sold, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        upsert(ctx, &self.schema, Self::VERSION, &e.till, e.amount * 100).await
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        truncate(ctx, &self.schema, Self::VERSION).await
    }
}

async fn upsert(
    ctx: &mut PgConnection,
    schema: &str,
    version: u32,
    till: &str,
    amount: i64,
) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO \"{schema}\".sales_v{version} (till, total) VALUES ($1, $2) \
         ON CONFLICT (till) DO UPDATE SET total = sales_v{version}.total + EXCLUDED.total"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(till)
        .bind(amount)
        .execute(ctx)
        .await?;
    Ok(())
}

async fn truncate(ctx: &mut PgConnection, schema: &str, version: u32) -> Result<(), sqlx::Error> {
    let sql = format!("TRUNCATE \"{schema}\".sales_v{version}");
    sqlx::query(AssertSqlSafe(sql)).execute(ctx).await?;
    Ok(())
}

async fn create_tables(store: &PgEventStore) {
    let s = store.schema();
    for version in [1, 2] {
        let sql = format!(
            "CREATE TABLE \"{s}\".sales_v{version} (till text PRIMARY KEY, total bigint NOT NULL)"
        );
        sqlx::query(AssertSqlSafe(sql))
            .execute(store.pool())
            .await
            .unwrap();
    }
}

async fn totals(store: &PgEventStore, version: u32) -> Option<Vec<(String, i64)>> {
    let sql = format!(
        "SELECT till, total FROM \"{}\".sales_v{version} ORDER BY till",
        store.schema()
    );
    sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .ok()
}

async fn sell(store: &PgEventStore, till: &str, amount: i64) -> u64 {
    let event = NewEvent::from_event(
        &Sold {
            till: till.into(),
            amount,
        },
        Metadata::new(),
    )
    .unwrap();
    store
        .append(till, "pgver.Till", ExpectedVersion::Any, vec![event])
        .await
        .unwrap()
        .last_position
}

fn runner(store: &PgEventStore) -> ProjectionRunner {
    let options = RunnerOptions::default()
        .with_batch_size(20)
        .with_lease_ttl(Duration::from_millis(600))
        .with_standby_poll(Duration::from_millis(50));
    ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options)
        .with_dead_letters(store.dead_letters())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_takes_over_from_another_process_which_retires_the_old_one() {
    let old_process = common::store().await;
    create_tables(&old_process).await;
    let new_process = common::same_schema(&old_process, "new-process", |o| o).await;
    let mut last = 0;
    for i in 0..90 {
        last = sell(&old_process, &format!("t{}", i % 3), 1).await;
    }
    let old = runner(&old_process);
    let schema = old_process.schema().to_owned();
    old.start(
        SalesV1 {
            schema: schema.clone(),
        },
        old_process.projection_backend(),
    )
    .await
    .unwrap();
    old.wait_until("pgver.sales", last, WAIT).await.unwrap();
    let expected_v1: Vec<(String, i64)> = (0..3).map(|t| (format!("t{t}"), 30)).collect();
    assert_eq!(totals(&old_process, 1).await.unwrap(), expected_v1);

    // The new release starts version 2 in another process.
    let new = runner(&new_process);
    new.start(
        SalesV2 {
            schema: schema.clone(),
        },
        new_process.projection_backend(),
    )
    .await
    .unwrap();
    let more = sell(&old_process, "t0", 1).await;
    new.wait_until("pgver.sales", more, WAIT).await.unwrap();

    // Version 2 is active; the old process retired version 1 and dropped its table.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = old.status("pgver.sales").await.unwrap();
        if status.state == ProjectionState::Retired {
            assert_eq!(status.active_version, Some(2));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "version 1 never retired: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        totals(&old_process, 1).await.is_none(),
        "the #[retire] method dropped sales_v1"
    );
    let status = new.status("pgver.sales").await.unwrap();
    assert_eq!((status.version, status.active_version), (2, Some(2)));
    assert_eq!(status.state, ProjectionState::Live);
    assert_eq!(
        totals(&new_process, 2).await.unwrap(),
        vec![
            ("t0".into(), 3_100),
            ("t1".into(), 3_000),
            ("t2".into(), 3_000)
        ]
    );
    old.shutdown().await;
    new.shutdown().await;
    common::drop_schema(&old_process).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_handling_other_events_under_a_recorded_version_is_refused() {
    let store = common::store().await;
    create_tables(&store).await;
    let backend = store.projection_backend();
    ProjectionBackend::<PgConnection>::register(
        &backend,
        "pgver.sales",
        1,
        &["pgver.Other".to_owned()],
    )
    .await
    .unwrap();
    let runner = runner(&store);
    let schema = store.schema().to_owned();
    match runner
        .start(
            SalesV1 {
                schema: schema.clone(),
            },
            store.projection_backend(),
        )
        .await
    {
        Err(RunnerError::Fingerprint { recorded, ours, .. }) => {
            assert_eq!(recorded, ["pgver.Other"]);
            assert_eq!(ours, ["pgver.Sold"]);
        }
        other => panic!("expected a fingerprint refusal, got {other:?}"),
    }
    let last = sell(&store, "t9", 4).await;
    runner
        .start_fresh(SalesV1 { schema }, store.projection_backend())
        .await
        .unwrap();
    runner.wait_until("pgver.sales", last, WAIT).await.unwrap();
    assert_eq!(totals(&store, 1).await.unwrap(), vec![("t9".into(), 4)]);
    runner.shutdown().await;
    common::drop_schema(&store).await;
}
