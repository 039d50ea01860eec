//! The PostgreSQL dead-letter store's reading of bad stored rows.

mod common;

use chrono::Utc;
use eventsource::StoreError;
use eventsource::projection::{DeadLetterStore, ParkedEvent};
use eventsource_postgres::PgEventStore;
use uuid::Uuid;

const PROJECTION: &str = "test.projection";

fn parked(position: u64) -> ParkedEvent {
    ParkedEvent {
        projection: PROJECTION.to_owned(),
        global_position: position,
        event_id: Uuid::now_v7(),
        stream_id: "s".to_owned(),
        stream_version: 1,
        event_name: "test.Happened".to_owned(),
        schema_version: 2,
        payload: r#"{"n": 1}"#.to_owned(),
        metadata: "null".to_owned(),
        recorded_at: Some(Utc::now()),
        error: "it failed".to_owned(),
        attempts: 3,
        parked_at: Utc::now(),
    }
}

/// Sets `column` of the dead letter at `position` by hand, as bad data would.
async fn tamper(store: &PgEventStore, column: &str, value: i64, position: u64) {
    let sql = format!(
        "UPDATE \"{}\".dead_letters SET {column} = $1 WHERE global_position = $2",
        store.schema()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(value)
        .bind(i64::try_from(position).unwrap())
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test]
async fn negative_numbers_in_a_dead_letter_are_corrupt_not_zero() {
    let store = common::store().await;
    let letters = store.dead_letters();
    letters.park(parked(10)).await.unwrap();
    letters.park(parked(20)).await.unwrap();
    let listed = letters.list(PROJECTION).await.unwrap();
    assert_eq!(
        listed.iter().map(|p| p.attempts).collect::<Vec<_>>(),
        [3, 3]
    );

    // The record parked is the record listed, raw texts included.
    let first = &listed[0];
    assert_eq!(
        (first.schema_version, &*first.payload, &*first.metadata),
        (2, r#"{"n": 1}"#, "null")
    );
    assert!(first.recorded_at.is_some());

    for (column, what) in [
        ("attempts", "attempt count"),
        ("stream_version", "stream version"),
        ("schema_version", "schema version"),
    ] {
        tamper(&store, column, -2, 20).await;
        match letters.list(PROJECTION).await {
            Err(StoreError::Corrupt {
                global_position,
                reason,
            }) => {
                assert_eq!(global_position, 20);
                assert!(
                    reason.contains(PROJECTION) && reason.contains(&format!("negative {what} -2")),
                    "{reason}"
                );
            }
            other => panic!("{column}: expected Corrupt, got {other:?}"),
        }
        tamper(&store, column, 1, 20).await;
    }
    assert_eq!(letters.list(PROJECTION).await.unwrap().len(), 2);
    assert_eq!(letters.count(PROJECTION).await.unwrap(), 2);
    common::drop_schema(&store).await;
}
