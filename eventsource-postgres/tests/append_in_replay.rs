//! Retried batches inside a caller's transaction: the caller must never be
//! told "success" while its transaction is (or ought to be) thrown away, and
//! its own writes in that transaction must never vanish without a word.

mod common;

use std::time::Duration;

use eventsource::store::{AppendResult, EventFilter, EventStore, ExpectedVersion};
use eventsource::{NewEvent, RecordedEvent, StoreError};
use eventsource_postgres::PgEventStore;
use futures::TryStreamExt;
use sqlx::{PgConnection, Row};

const AGG: &str = "test.Thing";

/// A store with a table of the caller's own, `notes`, beside the events.
async fn store_with_notes() -> PgEventStore {
    let store = common::store().await;
    let sql = format!(
        "CREATE TABLE \"{}\".notes (note text NOT NULL)",
        store.schema()
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .unwrap();
    store
}

async fn write_note(store: &PgEventStore, conn: &mut PgConnection, note: &str) {
    let sql = format!(
        "INSERT INTO \"{}\".notes (note) VALUES ($1)",
        store.schema()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(note)
        .execute(conn)
        .await
        .unwrap();
}

async fn notes(store: &PgEventStore) -> Vec<String> {
    let sql = format!(
        "SELECT note FROM \"{}\".notes ORDER BY note",
        store.schema()
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap()
}

async fn all(store: &PgEventStore) -> Vec<RecordedEvent> {
    store
        .read_all(0, EventFilter::all())
        .try_collect()
        .await
        .unwrap()
}

/// `stored` is where `original` put the events, flagged as a replay.
fn assert_same_place(stored: &AppendResult, original: &AppendResult) {
    assert!(stored.replayed, "{stored:?}");
    assert_eq!(
        (
            stored.first_version,
            stored.last_version,
            stored.first_position,
            stored.last_position
        ),
        (
            original.first_version,
            original.last_version,
            original.first_position,
            original.last_position
        )
    );
}

/// Whether PostgreSQL still runs statements in the transaction.
async fn usable(conn: &mut PgConnection) -> bool {
    match sqlx::query("SELECT 1").execute(conn).await {
        Ok(_) => true,
        Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("25P02") => false,
        Err(other) => panic!("unexpected failure: {other}"),
    }
}

#[tokio::test]
async fn a_retry_of_a_committed_batch_with_any_is_reported_and_leaves_the_transaction_intact() {
    let store = store_with_notes().await;
    let events = common::batch(2);
    let original = store
        .append("s", AGG, ExpectedVersion::Any, events.clone())
        .await
        .unwrap();

    let mut tx = store.pool().begin().await.unwrap();
    write_note(&store, &mut tx, "a").await;
    let retry = store
        .append_in(&mut tx, "s", AGG, ExpectedVersion::Any, events)
        .await;
    match retry {
        Err(StoreError::AlreadyStored {
            stream_id,
            stored,
            transaction_aborted,
        }) => {
            assert_eq!(&*stream_id, "s");
            assert_same_place(&stored, &original);
            assert!(!transaction_aborted, "the check before the insert failed");
        }
        other => panic!("expected AlreadyStored, got {other:?}"),
    }
    // Not aborted: the caller's earlier and later writes both survive a commit.
    assert!(usable(&mut tx).await);
    write_note(&store, &mut tx, "b").await;
    tx.commit().await.unwrap();
    assert_eq!(notes(&store).await, ["a", "b"]);
    assert_eq!(all(&store).await.len(), 2, "the batch was stored twice");
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn a_retry_of_a_committed_batch_with_an_exact_version_is_reported_too() {
    let store = store_with_notes().await;
    let events = common::batch(1);
    let original = store
        .append("s", AGG, ExpectedVersion::NoStream, events.clone())
        .await
        .unwrap();
    for expected in [ExpectedVersion::NoStream, ExpectedVersion::Exact(0)] {
        let mut tx = store.pool().begin().await.unwrap();
        let retry = store
            .append_in(&mut tx, "s", AGG, expected, events.clone())
            .await;
        match retry {
            Err(StoreError::AlreadyStored {
                stored,
                transaction_aborted: false,
                ..
            }) => assert_same_place(&stored, &original),
            other => panic!("{expected}: expected AlreadyStored, got {other:?}"),
        }
        assert!(usable(&mut tx).await);
        tx.rollback().await.unwrap();
    }
    // The store's own append still answers a retry with a replayed success.
    let again = store
        .append("s", AGG, ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    assert_same_place(&again, &original);
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn a_batch_repeated_within_one_transaction_is_a_plain_replay() {
    let store = store_with_notes().await;
    let events = common::batch(2);
    let mut tx = store.pool().begin().await.unwrap();
    write_note(&store, &mut tx, "a").await;
    let first = store
        .append_in(&mut tx, "s", AGG, ExpectedVersion::Any, events.clone())
        .await
        .unwrap();
    for expected in [ExpectedVersion::Any, ExpectedVersion::NoStream] {
        let again = store
            .append_in(&mut tx, "s", AGG, expected, events.clone())
            .await
            .unwrap_or_else(|e| panic!("{expected}: {e}"));
        assert_same_place(&again, &first);
    }
    assert!(usable(&mut tx).await, "the repeat aborted the transaction");
    tx.commit().await.unwrap();
    assert_eq!(notes(&store).await, ["a"]);
    assert_eq!(all(&store).await.len(), 2);
    common::drop_schema(&store).await;
}

/// Waits until backend `pid` is blocked on a lock (here: on another
/// transaction's uncommitted row in the event-id index).
async fn blocked(store: &PgEventStore, pid: i32) {
    loop {
        let waiting: bool =
            sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)")
                .bind(pid)
                .fetch_one(store.pool())
                .await
                .and_then(|row| row.try_get(0))
                .unwrap();
        if waiting {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn backend_pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A second transaction's append (after writing a note) waiting on a first,
/// still open transaction that appended the same batch.
type Racer = tokio::task::JoinHandle<(
    sqlx::Transaction<'static, sqlx::Postgres>,
    Result<AppendResult, StoreError>,
)>;

/// Appends `events` in a first transaction, left open for the caller to
/// commit or roll back, and the same batch in a second one that is blocked
/// on the first when this returns.
async fn race_a_duplicate(
    store: &PgEventStore,
    events: Vec<NewEvent>,
) -> (
    sqlx::Transaction<'static, sqlx::Postgres>,
    AppendResult,
    Racer,
) {
    let mut first = store.pool().begin().await.unwrap();
    let original = store
        .append_in(&mut first, "s", AGG, ExpectedVersion::Any, events.clone())
        .await
        .unwrap();
    let mut second = store.pool().begin().await.unwrap();
    write_note(store, &mut second, "second").await;
    let pid = backend_pid(&mut second).await;
    let racer = {
        let store = store.clone();
        tokio::spawn(async move {
            let result = store
                .append_in(&mut second, "s", AGG, ExpectedVersion::Any, events)
                .await;
            (second, result)
        })
    };
    blocked(store, pid).await;
    (first, original, racer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_in_flight_that_commits_is_reported_with_the_aborted_transaction() {
    let store = store_with_notes().await;
    let (first, original, racer) = race_a_duplicate(&store, common::batch(2)).await;
    first.commit().await.unwrap();

    let (mut second, result) = racer.await.unwrap();
    match result {
        Err(StoreError::AlreadyStored {
            stored,
            transaction_aborted,
            ..
        }) => {
            assert_same_place(&stored, &original);
            assert!(
                transaction_aborted,
                "the transaction is aborted, yet not said so"
            );
        }
        other => panic!("expected AlreadyStored, got {other:?}"),
    }
    // What the error said is true: the note cannot be committed any more.
    assert!(!usable(&mut second).await);
    second.rollback().await.unwrap();
    assert!(notes(&store).await.is_empty());
    assert_eq!(all(&store).await.len(), 2, "the batch was stored twice");
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_in_flight_that_rolls_back_leaves_the_append_to_the_waiter() {
    let store = store_with_notes().await;
    let (first, _, racer) = race_a_duplicate(&store, common::batch(1)).await;
    first.rollback().await.unwrap();

    let (second, result) = racer.await.unwrap();
    let written = result.unwrap();
    assert!(!written.replayed);
    assert_eq!(written.first_version, 1);
    second.commit().await.unwrap();
    assert_eq!(notes(&store).await, ["second"]);
    assert_eq!(all(&store).await.len(), 1);
    common::drop_schema(&store).await;
}
