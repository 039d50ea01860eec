//! Rebuild in place of a partitioned projection on PostgreSQL: the read
//! model (a table) is reset once and every partition replays its share,
//! through the runner and through a control request; refused while
//! another runner holds some of the partitions.

mod common;

use std::time::Duration;

use eventsource::prelude::*;
use eventsource::projection::{ControlCommand, ControlStatus, RunnerError, RunnerOptions};
use eventsource_postgres::{PgEventStore, PgReadModel, ReadModelStep};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

const NAME: &str = "pgpart.notes";
const WAIT: Duration = Duration::from_secs(60);

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgpart.Noted")]
struct Noted {
    n: i64,
}

/// One row per event applied: a replay applying one twice shows.
struct Notes {
    model: PgReadModel,
}

const STEPS: &[ReadModelStep] = &[ReadModelStep::new(
    1,
    "CREATE TABLE {schema}.pgpart_notes (stream_id text NOT NULL, version bigint NOT NULL, n bigint NOT NULL)",
)];

#[projection(name = "pgpart.notes", partitions = 4)]
impl Notes {
    async fn on_noted(
        &mut self,
        e: &Noted,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            self.model.sql(
                "INSERT INTO {schema}.pgpart_notes (stream_id, version, n) VALUES ($1, $2, $3)",
            ),
        )
        .bind(meta.stream_id.to_string())
        .bind(i64::try_from(meta.stream_version).unwrap_or(i64::MAX))
        .bind(e.n)
        .execute(ctx)
        .await?;
        Ok(())
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(self.model.sql("TRUNCATE {schema}.pgpart_notes"))
            .execute(ctx)
            .await?;
        Ok(())
    }
}

fn notes(store: &PgEventStore) -> Notes {
    Notes {
        model: PgReadModel::new(store, NAME, 1).unwrap(),
    }
}

fn runner(store: &PgEventStore) -> ProjectionRunner {
    ProjectionRunner::new(store.clone())
        .unwrap()
        .with_control(store.control_store())
        .with_options(
            RunnerOptions::default()
                .with_lease_ttl(Duration::from_secs(3))
                .with_standby_poll(Duration::from_millis(100)),
        )
}

/// The read model's rows, in order.
async fn rows(store: &PgEventStore) -> Vec<(String, i64, i64)> {
    let model = PgReadModel::new(store, NAME, 1).unwrap();
    sqlx::query_as(
        model.sql(
            "SELECT stream_id, version, n FROM {schema}.pgpart_notes ORDER BY stream_id, version",
        ),
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

async fn write(store: &PgEventStore, streams: u64, per_stream: i64) -> u64 {
    let mut last = 0;
    for round in 0..per_stream {
        for s in 0..streams {
            let event = NewEvent::from_event(&Noted { n: round }, Metadata::new()).unwrap();
            last = store
                .append(
                    &format!("note-{s}"),
                    "pgpart.Note",
                    ExpectedVersion::Any,
                    vec![event],
                )
                .await
                .unwrap()
                .last_position;
        }
    }
    last
}

/// Waits (bounded) until `runner` holds `want` of the partitions.
async fn holds(runner: &ProjectionRunner, want: usize) {
    for _ in 0..600 {
        let parts = runner.partitions(NAME).await.unwrap();
        if parts
            .iter()
            .filter(|p| p.owner == Some(runner.owner()))
            .count()
            == want
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the runner never held {want} partitions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_read_model_is_rebuilt_in_place_equal_to_before() {
    let store = common::store().await;
    PgReadModel::new(&store, NAME, 1)
        .unwrap()
        .migrate(STEPS)
        .await
        .unwrap();
    let a = runner(&store);
    a.start(notes(&store), store.projection_backend())
        .await
        .unwrap();
    let last = write(&store, 12, 4).await;
    a.wait_until(NAME, last, WAIT).await.unwrap();
    holds(&a, 4).await;
    let before = rows(&store).await;
    assert_eq!(before.len(), 48);

    // Through the runner.
    let done = a.rebuild(NAME, |_| {}).await.unwrap();
    assert_eq!((done.done, done.total), (48, 48), "{done:?}");
    assert_eq!(rows(&store).await, before);
    for part in a.partitions(NAME).await.unwrap() {
        assert!(part.position >= Some(last), "{part:?}");
        assert_eq!(part.lag, 0, "{part:?}");
    }

    // Through a control request for the whole version, as the admin
    // command records it.
    let control = store.control_store();
    use eventsource::projection::ControlStore as _;
    let request = control
        .request(NAME, ControlCommand::Rebuild, Some("test"))
        .await
        .unwrap();
    let mut finished = None;
    for _ in 0..600 {
        let now = control.get(request.id).await.unwrap().unwrap();
        if matches!(now.status, ControlStatus::Done | ControlStatus::Failed) {
            finished = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let finished = finished.expect("the rebuild request was never carried out");
    assert_eq!(finished.status, ControlStatus::Done, "{finished:?}");
    a.wait_until(NAME, last, WAIT).await.unwrap();
    assert_eq!(rows(&store).await, before);

    // Another runner holding half of the partitions: refused, unchanged.
    let other = common::same_schema(&store, "pgpart-other", |o| o).await;
    let b = runner(&other);
    b.start(notes(&other), other.projection_backend())
        .await
        .unwrap();
    holds(&a, 2).await;
    holds(&b, 2).await;
    let refused = a.rebuild(NAME, |_| {}).await.unwrap_err();
    assert!(
        matches!(
            refused,
            RunnerError::PartitionsNotHeld {
                held: 2,
                count: 4,
                ..
            }
        ),
        "{refused:?}"
    );
    assert_eq!(rows(&store).await, before);
    // And as a control request: the holder of partition 0 refuses it.
    let request = control
        .request(NAME, ControlCommand::Rebuild, Some("test"))
        .await
        .unwrap();
    let mut finished = None;
    for _ in 0..600 {
        let now = control.get(request.id).await.unwrap().unwrap();
        if matches!(now.status, ControlStatus::Done | ControlStatus::Failed) {
            finished = Some(now);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let finished = finished.expect("the rebuild request was never answered");
    assert_eq!(finished.status, ControlStatus::Failed, "{finished:?}");
    assert!(
        finished
            .outcome
            .as_deref()
            .is_some_and(|o| o.contains("holds 2 of its 4")),
        "{finished:?}"
    );
    assert_eq!(rows(&store).await, before);

    // New events after all that: once each.
    let last = write(&store, 12, 1).await;
    a.wait_until(NAME, last, WAIT).await.unwrap();
    b.wait_until(NAME, last, WAIT).await.unwrap();
    assert_eq!(rows(&store).await.len(), 60);
    b.shutdown().await;
    a.shutdown().await;
}
