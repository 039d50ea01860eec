//! Many tasks appending to one stream: versions stay contiguous, every
//! event lands exactly once, and every loser gets a typed conflict.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::{Metadata, NewEvent, StoreError};
use eventsource_postgres::PgEventStore;
use futures::TryStreamExt;
use tokio::sync::Barrier;

const TASKS: usize = 16;
const AGG: &str = "test.Counter";

fn event(n: usize) -> NewEvent {
    NewEvent::new(
        "test.Incremented",
        1,
        format!(r#"{{"n":{n}}}"#),
        Metadata::new(),
    )
}

async fn check_stream(store: &PgEventStore, stream: &str, written: &HashSet<uuid::Uuid>) {
    let events: Vec<_> = store.read_stream(stream, 1).try_collect().await.unwrap();
    let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
    let expected: Vec<u64> = (1..=written.len() as u64).collect();
    assert_eq!(versions, expected, "versions are not contiguous");
    let stored: HashSet<_> = events.iter().map(|e| e.event_id).collect();
    assert_eq!(stored.len(), events.len(), "an event is stored twice");
    assert_eq!(
        &stored, written,
        "stored events differ from the acknowledged ones"
    );
    for pair in events.windows(2) {
        assert!(
            pair[0].global_position < pair[1].global_position,
            "stream order and global order disagree at version {}",
            pair[1].stream_version
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_exact_writers_on_one_stream() {
    const EACH: usize = 8;
    let store = common::store_with(TASKS as u32 + 4, |o| o).await;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let (mut written, mut conflicts) = (Vec::new(), 0);
            while written.len() < EACH {
                let current = store.stream_version("counter").await.unwrap();
                let expected = ExpectedVersion::from_current(current);
                let e = event(task * 100 + written.len());
                let id = e.event_id;
                match store.append("counter", AGG, expected, vec![e]).await {
                    Ok(r) => {
                        assert_eq!(r.first_version, current.unwrap_or(0) + 1);
                        written.push(id);
                    }
                    Err(StoreError::Conflict {
                        expected: e,
                        actual,
                        ..
                    }) => {
                        assert_eq!(e, expected);
                        assert!(
                            actual > current,
                            "conflict reported {actual:?}, the loser read {current:?}"
                        );
                        conflicts += 1;
                    }
                    Err(other) => panic!("a losing writer got {other:?}, not a conflict"),
                }
            }
            (written, conflicts)
        }));
    }
    let mut written = HashSet::new();
    let mut conflicts = 0;
    for task in tasks {
        let (ids, lost) = task.await.unwrap();
        written.extend(ids);
        conflicts += lost;
    }
    assert_eq!(written.len(), TASKS * EACH);
    assert!(conflicts > 0, "16 racing writers never conflicted");
    check_stream(&store, "counter", &written).await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_racers_for_one_version_one_wins() {
    let store = common::store_with(TASKS as u32 + 4, |o| o).await;
    let mut written = HashSet::new();
    for round in 0..5u64 {
        let expected = if round == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(round)
        };
        let barrier = Arc::new(Barrier::new(TASKS));
        let mut tasks = Vec::new();
        for task in 0..TASKS {
            let store = store.clone();
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let e = event(task);
                let id = e.event_id;
                barrier.wait().await;
                (id, store.append("race", AGG, expected, vec![e]).await)
            }));
        }
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                (id, Ok(r)) => {
                    assert_eq!(r.last_version, round + 1);
                    written.insert(id);
                    winners += 1;
                }
                (_, Err(StoreError::Conflict { actual, .. })) => {
                    assert_eq!(actual, Some(round + 1), "a loser saw the wrong version");
                }
                (_, Err(other)) => panic!("a loser got {other:?}, not a conflict"),
            }
        }
        assert_eq!(winners, 1, "round {round}: {winners} appends won");
    }
    check_stream(&store, "race", &written).await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_any_writers_all_land() {
    const EACH: usize = 10;
    let store = common::store_with(TASKS as u32 + 4, |o| o).await;
    let barrier = Arc::new(Barrier::new(TASKS));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut ids = Vec::new();
            for n in 0..EACH {
                let batch = vec![event(task * 100 + n), event(task * 100 + n + 50)];
                ids.extend(batch.iter().map(|e| e.event_id));
                store
                    .append("shared", AGG, ExpectedVersion::Any, batch)
                    .await
                    .unwrap_or_else(|e| panic!("an Any append failed: {e}"));
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    check_stream(&store, "shared", &written).await;
    common::drop_schema(&store).await;
}

/// Regression: with custom plans the planner used to evaluate
/// `pg_current_xact_id()` at bind time, before the statement's snapshot, so
/// an append could see a younger transaction's event and refuse to order the
/// stream backwards. Appends must neither fail nor misorder under that load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_order_matches_global_order_with_custom_plans() {
    const EACH: usize = 15;
    let store = common::store_with(TASKS as u32 + 4, |o| o).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(TASKS as u32)
        .after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::query("SET plan_cache_mode = force_custom_plan")
                    .execute(conn)
                    .await
                    .map(|_| ())
            })
        })
        .connect(&common::database_url())
        .await
        .unwrap();
    let forced = PgEventStore::with_options(pool, store.options().clone());
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = forced.clone();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..EACH {
                let e = event(task * 100 + n);
                ids.push(e.event_id);
                store
                    .append("hot", AGG, ExpectedVersion::Any, vec![e])
                    .await
                    .unwrap_or_else(|e| panic!("an Any append failed: {e}"));
            }
            ids
        }));
    }
    let mut written = HashSet::new();
    for task in tasks {
        written.extend(task.await.unwrap());
    }
    check_stream(&store, "hot", &written).await;
    common::drop_schema(&store).await;
}
