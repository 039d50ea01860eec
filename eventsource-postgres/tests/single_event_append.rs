//! A batch of one event has a statement of its own (plain parameters rather
//! than arrays). Every rule of the batch statement holds for it too, in the
//! store's own transactions and in a caller's.

mod common;

use eventsource::store::{AppendResult, EventStore, ExpectedVersion};
use eventsource::{NewEvent, StoreError};
use eventsource_postgres::PgEventStore;

const AGG: &str = "test.Thing";

/// How an append ended, without the parts that differ with the batch size.
#[derive(Debug, PartialEq)]
enum Ended {
    Written { first: u64, last: u64 },
    Replayed { first: u64, last: u64 },
    Conflict { actual: Option<u64> },
    Invalid,
    Duplicate { stored_version: u64 },
    AlreadyStored,
}

fn ended(result: Result<AppendResult, StoreError>) -> Ended {
    match result {
        Ok(r) if r.replayed => Ended::Replayed {
            first: r.first_version,
            last: r.last_version,
        },
        Ok(r) => Ended::Written {
            first: r.first_version,
            last: r.last_version,
        },
        Err(StoreError::Conflict { actual, .. }) => Ended::Conflict { actual },
        Err(StoreError::Invalid(_)) => Ended::Invalid,
        Err(StoreError::DuplicateEvent { stored_version, .. }) => {
            Ended::Duplicate { stored_version }
        }
        Err(StoreError::AlreadyStored { .. }) => Ended::AlreadyStored,
        Err(other) => panic!("unexpected error: {other}"),
    }
}

/// Appends through the store, or inside a transaction that commits when
/// the append succeeds and rolls back otherwise.
async fn append(
    store: &PgEventStore,
    in_tx: bool,
    stream: &str,
    aggregate_type: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Ended {
    if !in_tx {
        return ended(store.append(stream, aggregate_type, expected, events).await);
    }
    let mut tx = store.pool().begin().await.expect("begin");
    let result = store
        .append_in(&mut tx, stream, aggregate_type, expected, events)
        .await;
    if result.is_ok() {
        tx.commit().await.expect("commit");
    } else {
        tx.rollback().await.expect("roll back");
    }
    ended(result)
}

/// The same scenario with batches of `size`; returns every outcome.
async fn scenario(store: &PgEventStore, in_tx: bool, size: usize) -> Vec<Ended> {
    let n = size as u64;
    let first = common::batch(size);
    let mut outcomes = vec![
        append(
            store,
            in_tx,
            "s",
            AGG,
            ExpectedVersion::NoStream,
            first.clone(),
        )
        .await,
        // The same batch again: a replay, answered with the stored places
        // (inside a transaction: reported, since it committed earlier).
        append(
            store,
            in_tx,
            "s",
            AGG,
            ExpectedVersion::NoStream,
            first.clone(),
        )
        .await,
    ];
    for (expected, aggregate_type) in [
        (ExpectedVersion::NoStream, AGG),
        (ExpectedVersion::Exact(n + 1), AGG),
        (ExpectedVersion::Exact(n - 1), AGG),
        (ExpectedVersion::Exact(n), "test.Other"),
        (ExpectedVersion::Any, "test.Other"),
    ] {
        outcomes.push(
            append(
                store,
                in_tx,
                "s",
                aggregate_type,
                expected,
                common::batch(size),
            )
            .await,
        );
    }
    // Stored ids in another stream.
    outcomes.push(append(store, in_tx, "t", AGG, ExpectedVersion::Any, first).await);
    outcomes.push(
        append(
            store,
            in_tx,
            "s",
            AGG,
            ExpectedVersion::Exact(n),
            common::batch(size),
        )
        .await,
    );
    outcomes.push(
        append(
            store,
            in_tx,
            "s",
            AGG,
            ExpectedVersion::Any,
            common::batch(size),
        )
        .await,
    );
    outcomes
}

fn expected_outcomes(in_tx: bool, n: u64) -> Vec<Ended> {
    vec![
        Ended::Written { first: 1, last: n },
        if in_tx {
            Ended::AlreadyStored
        } else {
            Ended::Replayed { first: 1, last: n }
        },
        Ended::Conflict { actual: Some(n) },
        Ended::Conflict { actual: Some(n) },
        Ended::Conflict { actual: Some(n) },
        Ended::Invalid,
        Ended::Invalid,
        Ended::Duplicate { stored_version: 1 },
        Ended::Written {
            first: n + 1,
            last: 2 * n,
        },
        Ended::Written {
            first: 2 * n + 1,
            last: 3 * n,
        },
    ]
}

#[tokio::test]
async fn a_single_event_follows_the_rules_of_a_batch() {
    for in_tx in [false, true] {
        for size in [1, 2] {
            let store = common::store().await;
            let outcomes = scenario(&store, in_tx, size).await;
            assert_eq!(
                outcomes,
                expected_outcomes(in_tx, size as u64),
                "batches of {size}, in a caller's transaction: {in_tx}"
            );
            let stored: Vec<_> = {
                use futures::TryStreamExt;
                store.read_stream("s", 1).try_collect().await.unwrap()
            };
            assert_eq!(stored.len(), 3 * size);
            assert!(
                stored
                    .windows(2)
                    .all(|w| w[0].global_position < w[1].global_position),
                "positions follow the stream's order"
            );
            common::drop_schema(&store).await;
        }
    }
}
