//! Read models in PostgreSQL named through `PgReadModel`: tables under the
//! store's schema without hand-built SQL, migrated once per projection
//! version even with several processes starting at once.

mod common;

use std::time::Duration;

use eventsource::StoreError;
use eventsource::prelude::*;
use eventsource::projection::RunnerOptions;
use eventsource_postgres::{PgEventStore, PgReadModel, ReadModelStep};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

const WAIT: Duration = Duration::from_secs(20);

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgrm.Sold")]
struct Sold {
    till: String,
    amount: i64,
}

/// Takings per till, in `<schema>.takings_v<version>`.
struct Takings {
    model: PgReadModel,
}

const STEPS: &[ReadModelStep] = &[
    ReadModelStep::new(
        1,
        "CREATE TABLE {schema}.takings_v{version} (till text PRIMARY KEY, total bigint NOT NULL)",
    ),
    ReadModelStep::new(
        2,
        "ALTER TABLE {schema}.takings_v1 ADD COLUMN sales integer NOT NULL DEFAULT 0",
    ),
];

#[projection(name = "pgrm.takings", version = 2)]
impl Takings {
    async fn on_sold(&mut self, e: &Sold, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(self.model.sql(
            "INSERT INTO {schema}.takings_v1 (till, total, sales) VALUES ($1, $2, 1) \
             ON CONFLICT (till) DO UPDATE SET total = takings_v1.total + $2, \
             sales = takings_v1.sales + 1",
        ))
        .bind(&e.till)
        .bind(e.amount)
        .execute(ctx)
        .await?;
        Ok(())
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(self.model.sql("TRUNCATE {schema}.takings_v1"))
            .execute(ctx)
            .await?;
        Ok(())
    }
}

async fn applied(store: &PgEventStore, name: &str) -> Vec<i32> {
    let model = PgReadModel::new(store, name, 1).unwrap();
    sqlx::query_scalar(model.sql(
        "SELECT version FROM {schema}.read_model_migrations WHERE read_model = $1 ORDER BY version",
    ))
    .bind(name)
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_run_once_each_up_to_the_projection_version() {
    let store = common::store().await;
    let v1 = PgReadModel::new(&store, "pgrm.takings", 1).unwrap();
    assert_eq!(v1.migrate(&STEPS[..1]).await.unwrap(), vec![1]);
    assert_eq!(v1.migrate(&STEPS[..1]).await.unwrap(), Vec::<u32>::new());

    // Version 2 of the code, started by two processes at once: the step of
    // version 2 runs once (a second ALTER ... ADD COLUMN would fail).
    let other = common::same_schema(&store, "eventsource-tests-rm", |o| o).await;
    let (here, there) = (
        PgReadModel::of::<Takings>(&store),
        PgReadModel::of::<Takings>(&other),
    );
    let (a, b) = tokio::join!(here.migrate(STEPS), there.migrate(STEPS));
    let mut ran = [a.unwrap(), b.unwrap()];
    ran.sort();
    assert_eq!(ran, [vec![], vec![2]]);
    assert_eq!(applied(&store, "pgrm.takings").await, vec![1, 2]);
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn misordered_or_future_steps_are_refused_before_anything_runs() {
    let store = common::store().await;
    let v1 = PgReadModel::new(&store, "pgrm.bad", 1).unwrap();
    let err = v1.migrate(STEPS).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("runs version 1"), "{err}");

    let v2 = PgReadModel::new(&store, "pgrm.bad", 2).unwrap();
    let err = v2.migrate(&[STEPS[1], STEPS[0]]).await.unwrap_err();
    assert!(err.to_string().contains("increasing versions"), "{err}");
    assert!(applied(&store, "pgrm.bad").await.is_empty());

    assert!(matches!(
        PgReadModel::new(&store, "pgrm.bad", 0),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        PgReadModel::new(&store, " ", 1),
        Err(StoreError::Invalid(_))
    ));

    // A failing step leaves nothing behind: neither its table nor a record.
    let broken = [ReadModelStep::new(
        1,
        "CREATE TABLE {schema}.nope (x no_such_type)",
    )];
    let err = v1.migrate(&broken).await.unwrap_err();
    assert!(
        err.to_string().contains("the step of version 1 failed"),
        "{err}"
    );
    assert!(applied(&store, "pgrm.bad").await.is_empty());
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_writes_its_tables_in_the_stores_schema() {
    let store = common::store().await;
    let model = PgReadModel::of::<Takings>(&store);
    assert_eq!((model.name(), model.version()), ("pgrm.takings", 2));
    model.migrate(STEPS).await.unwrap();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(RunnerOptions::default().with_standby_poll(Duration::from_millis(50)));
    runner
        .start(
            Takings {
                model: model.clone(),
            },
            store.projection_backend(),
        )
        .await
        .unwrap();
    let mut last = 0;
    for (till, amount) in [("a", 5), ("b", 7), ("a", 1)] {
        let event = NewEvent::from_event(
            &Sold {
                till: till.into(),
                amount,
            },
            Metadata::new(),
        )
        .unwrap();
        last = store
            .append("till", "pgrm.Till", ExpectedVersion::Any, vec![event])
            .await
            .unwrap()
            .last_position;
    }
    runner.wait_until("pgrm.takings", last, WAIT).await.unwrap();
    let rows: Vec<(String, i64, i32)> = sqlx::query_as(
        model.sql("SELECT till, total, sales FROM {schema}.takings_v1 ORDER BY till"),
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(rows, vec![("a".into(), 6, 2), ("b".into(), 7, 1)]);
    runner.shutdown().await;
    common::drop_schema(&store).await;
}
