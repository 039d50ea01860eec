//! Deleting and truncating streams under a live subscriber and a projection
//! whose read model is in PostgreSQL: nothing waits on a removed position,
//! the projection removes a deleted stream's rows, and a rebuild from the
//! remaining log gives the same read model.

mod common;

use std::time::Duration;

use eventsource::StoreError;
use eventsource::prelude::*;
use eventsource::store::{DeleteMode, StreamDeleted, SubscriptionItem};
use eventsource_postgres::PgEventStore;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pglife.Noted")]
struct Noted {
    account: String,
    text: String,
}

/// One row per (stream, version) noted, in `<schema>.notes`.
struct Notes {
    schema: String,
}

#[projection(name = "pglife.notes")]
impl Notes {
    async fn on_noted(
        &mut self,
        e: &Noted,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO \"{s}\".notes (stream_id, version, text) VALUES ($1, $2, $3)"
        )))
        .bind(&*meta.stream_id)
        .bind(meta.stream_version as i64)
        .bind(format!("{}:{}", e.account, e.text))
        .execute(ctx)
        .await?;
        Ok(())
    }

    async fn on_deleted(
        &mut self,
        e: &StreamDeleted,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM \"{s}\".notes WHERE stream_id = $1"
        )))
        .bind(&e.stream_id)
        .execute(ctx)
        .await?;
        Ok(())
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        sqlx::raw_sql(AssertSqlSafe(format!("TRUNCATE \"{s}\".notes")))
            .execute(ctx)
            .await?;
        Ok(())
    }
}

const NAME: &str = "pglife.notes";
const WAIT: Duration = Duration::from_secs(20);

async fn note(store: &PgEventStore, account: &str, n: usize) -> u64 {
    let events = (0..n)
        .map(|i| {
            NewEvent::from_event(
                &Noted {
                    account: account.into(),
                    text: format!("note {i}"),
                },
                Metadata::new(),
            )
            .unwrap()
        })
        .collect();
    store
        .append(account, "pglife.Account", ExpectedVersion::Any, events)
        .await
        .unwrap()
        .last_position
}

async fn notes(store: &PgEventStore) -> Vec<(String, i64, String)> {
    let s = store.schema();
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT stream_id, version, text FROM \"{s}\".notes ORDER BY stream_id, version"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_and_truncate_under_a_subscriber_and_a_projection() {
    let store = common::store().await;
    let s = store.schema().to_owned();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE TABLE \"{s}\".notes (stream_id text, version bigint, text text, \
         PRIMARY KEY (stream_id, version))"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    let mut noted = 0;
    for account in ["a", "b", "c"] {
        noted = note(&store, account, 4).await;
    }
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    runner
        .start(Notes { schema: s.clone() }, store.projection_backend())
        .await
        .unwrap();
    // Live before the deletes: the projection has seen every first note.
    runner.wait_until(NAME, noted, WAIT).await.unwrap();
    let mut sub = store.subscribe(0, EventFilter::all());

    let hard = store.delete_stream("a", DeleteMode::Hard).await.unwrap();
    assert_eq!(hard.removed, 4);
    store.delete_stream("b", DeleteMode::Soft).await.unwrap();
    let truncated = store.truncate_before("c", 3).await.unwrap();
    assert_eq!(truncated.removed, 2);
    let head = note(&store, "c", 2).await;

    // The subscriber reaches the head, each record once and in order, with
    // neither removed events nor a wait on their positions.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let item = tokio::time::timeout_at(deadline, sub.next())
            .await
            .expect("the subscriber stalled")
            .expect("the subscription ended")
            .unwrap();
        match item {
            SubscriptionItem::Event(e) => seen.push(e),
            SubscriptionItem::CaughtUp { position } if position >= head => break,
            _ => {}
        }
    }
    let positions: Vec<u64> = seen.iter().map(|e| e.global_position).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    // Subscribed after the appends and before the deletes: it may have read
    // some of `a` first, but never after its tombstone.
    let tombstone = seen
        .iter()
        .position(|e| &*e.stream_id == "a" && &*e.event_name == eventsource::store::TOMBSTONE)
        .expect("the subscriber was told of the delete of `a`");
    assert!(
        seen[tombstone..]
            .iter()
            .all(|e| &*e.stream_id != "a" || e.stream_version == 5)
    );

    runner.wait_until(NAME, head, WAIT).await.unwrap();
    let live = notes(&store).await;
    assert!(live.iter().all(|(stream, _, _)| stream == "c"), "{live:?}");
    // `c` was noted at versions 1..=4, truncated before 3, then 5 and 6 were added:
    // the projection saw every event live, so it keeps 1..=6.
    assert_eq!(live.len(), 6, "{live:?}");

    // A rebuild replays what is left: `c` from version 3.
    runner.rebuild(NAME, |_| {}).await.unwrap();
    runner.wait_until(NAME, head, WAIT).await.unwrap();
    let rebuilt = notes(&store).await;
    let versions: Vec<i64> = rebuilt.iter().map(|(_, v, _)| *v).collect();
    assert_eq!(versions, vec![3, 4, 5, 6], "{rebuilt:?}");
    runner.shutdown().await;

    // Bad requests: typed errors, nothing lost.
    assert!(matches!(
        store.delete_stream("missing", DeleteMode::Hard).await,
        Err(StoreError::StreamNotFound { .. })
    ));
    assert!(matches!(
        store
            .append("b", "pglife.Account", ExpectedVersion::Any, vec![])
            .await,
        Err(StoreError::StreamDeleted { .. })
    ));
    assert!(matches!(
        store.truncate_before("c", 7).await,
        Err(StoreError::TruncateBeyondHead { head: 6, .. })
    ));
    assert_eq!(store.stream_version("c").await.unwrap(), Some(6));
    common::drop_schema(&store).await;
}
