//! The guard against a cluster whose transaction-id counter is behind the
//! stored positions, simulated with a row written by hand far ahead of it.

mod common;

use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::{Metadata, NewEvent, StoreError};
use eventsource_postgres::{PgEventStore, TransactionIdsBehind};

const AGG: &str = "test.Thing";

fn event() -> NewEvent {
    NewEvent::new("test.Happened", 1, "{}", Metadata::new())
}

/// The cluster's next transaction id, without taking one.
async fn next_xid(store: &PgEventStore) -> u64 {
    let next: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            .fetch_one(store.pool())
            .await
            .unwrap();
    u64::try_from(next).unwrap()
}

/// Writes an event as a cluster a million transactions ahead of this one
/// would have (as after restoring its dump here), returning its position.
async fn write_from_the_future(store: &PgEventStore) -> u64 {
    let xid = next_xid(store).await + 1_000_000;
    let position = xid * 65_536 + 1;
    let sql = format!(
        "INSERT INTO \"{}\".events (global_position, transaction_id, stream_id, aggregate_type, \
             stream_version, event_id, event_name, schema_version, payload, metadata) \
         VALUES ($1, $2::text::xid8, 'restored', $3, 1, gen_random_uuid(), 'test.Happened', 1, \
             '{{}}', '{{}}')",
        store.schema()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(i64::try_from(position).unwrap())
        .bind(xid.to_string())
        .bind(AGG)
        .execute(store.pool())
        .await
        .unwrap();
    position
}

fn behind(result: Result<impl std::fmt::Debug, StoreError>) -> TransactionIdsBehind {
    match result {
        Err(err) => match TransactionIdsBehind::in_error(&err) {
            Some(found) => {
                let text = err.to_string();
                assert!(
                    text.contains("pg_resetwal -e") && text.contains("pg_dump"),
                    "the message does not explain cause and fix: {text}"
                );
                found.clone()
            }
            None => panic!("expected TransactionIdsBehind, got {err:?}"),
        },
        Ok(other) => panic!("expected TransactionIdsBehind, got {other:?}"),
    }
}

/// The stored positions, read with SQL: `read_all` would wait for the
/// transactions that may still commit below the stray row, which here is
/// every transaction for the next million.
async fn positions(store: &PgEventStore) -> Vec<i64> {
    let sql = format!(
        "SELECT global_position FROM \"{}\".events ORDER BY global_position",
        store.schema()
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_healthy_cluster_passes_the_check() {
    let store = common::store().await;
    store.check_transaction_ids().await.unwrap();
    store
        .append("s", AGG, ExpectedVersion::NoStream, vec![event()])
        .await
        .unwrap();
    store.check_transaction_ids().await.unwrap();
    assert!(store.migrate().await.unwrap().is_empty());
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn stored_positions_ahead_of_the_counter_stop_migrate_and_appends() {
    let setup = common::store().await;
    let position = write_from_the_future(&setup).await;

    let found = behind(setup.check_transaction_ids().await);
    assert_eq!(found.schema, setup.schema());
    assert_eq!(found.highest_position, position);
    assert_eq!(found.highest_transaction_id(), position / 65_536);
    assert!(found.next_transaction_id < found.highest_transaction_id());
    behind(setup.migrate().await);

    // A process starting on the moved database: its first append of either
    // kind is refused before it writes anything.
    let writer = common::same_schema(&setup, "eventsource-tests-writer", |o| o).await;
    behind(
        writer
            .append("s", AGG, ExpectedVersion::NoStream, vec![event()])
            .await,
    );
    let mut tx = writer.pool().begin().await.unwrap();
    behind(
        writer
            .append_in(&mut tx, "s", AGG, ExpectedVersion::NoStream, vec![event()])
            .await,
    );
    tx.rollback().await.unwrap();
    assert_eq!(
        positions(&writer).await,
        [i64::try_from(position).unwrap()],
        "an event was written below the restored ones"
    );

    // Once the stray row is gone (here: the counter "caught up"), appends work.
    let sql = format!("DELETE FROM \"{}\".events", setup.schema());
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(setup.pool())
        .await
        .unwrap();
    writer
        .append("s", AGG, ExpectedVersion::NoStream, vec![event()])
        .await
        .unwrap();
    writer.pool().close().await;
    common::drop_schema(&setup).await;
}
