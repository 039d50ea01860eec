//! The gap-free order under fire: concurrent writers whose transactions
//! take their ids early, sleep at random inside, and sometimes roll back,
//! while subscribers tail the log. Every committed event must arrive exactly
//! once, in one global order, and no rolled-back event ever.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use eventsource::store::{EventFilter, EventStore, ExpectedVersion, SubscriptionItem};
use eventsource::{Metadata, NewEvent, RecordedEvent, StoreError};
use eventsource_postgres::PgEventStore;
use tokio::sync::mpsc;

const WRITERS: usize = 10;
const TRANSACTIONS: usize = 20;
const STREAMS: usize = 40;
/// Even-numbered streams belong to one aggregate type, odd ones to another,
/// so that an aggregate-type filter selects a strict subset of the log.
const AGGREGATES: [&str; 2] = ["test.Thing", "test.Other"];
/// Events take either name, for an event-name filter.
const NAMES: [&str; 2] = ["test.Happened", "test.Noted"];

/// What one writer's transactions did.
#[derive(Default)]
struct Outcome {
    committed: Vec<uuid::Uuid>,
    rolled_back: Vec<uuid::Uuid>,
    /// (when it committed, its lowest position), per committed transaction.
    commits: Vec<(Instant, u64)>,
}

async fn pause(rng: &mut fastrand::Rng) {
    tokio::time::sleep(Duration::from_millis(rng.u64(0..12))).await;
}

async fn writer(store: PgEventStore, seed: u64) -> Outcome {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut out = Outcome::default();
    for _ in 0..TRANSACTIONS {
        let mut tx = store.pool().begin().await.unwrap();
        if rng.bool() {
            // Take a transaction id (and so a position range) long before
            // writing: the classic way a later-numbered commit overtakes it.
            sqlx::query("SELECT pg_current_xact_id()")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        pause(&mut rng).await;
        let mut pending = Vec::new();
        let mut lowest = u64::MAX;
        let mut aborted = false;
        for _ in 0..rng.usize(1..=3) {
            let s = rng.usize(0..STREAMS);
            let stream = format!("s{s}");
            let batch: Vec<NewEvent> = (0..rng.usize(1..=3))
                .map(|n| {
                    NewEvent::new(
                        NAMES[rng.usize(0..NAMES.len())],
                        1,
                        format!(r#"{{"n":{n}}}"#),
                        Metadata::new(),
                    )
                })
                .collect();
            let ids: Vec<_> = batch.iter().map(|e| e.event_id).collect();
            let aggregate = AGGREGATES[s % AGGREGATES.len()];
            match store
                .append_in(&mut tx, &stream, aggregate, ExpectedVersion::Any, batch)
                .await
            {
                Ok(r) => {
                    lowest = lowest.min(r.first_position);
                    pending.extend(ids);
                }
                // Another transaction holds or overtook this stream: this
                // one is aborted (or must not continue), so it rolls back.
                Err(StoreError::Conflict { .. } | StoreError::Invalid(_)) => {
                    pending.extend(ids);
                    aborted = true;
                    break;
                }
                Err(other) => panic!("append_in failed: {other}"),
            }
            pause(&mut rng).await;
        }
        if aborted || rng.u8(0..4) == 0 {
            tx.rollback().await.unwrap();
            out.rolled_back.extend(pending);
        } else {
            tx.commit().await.unwrap();
            out.commits.push((Instant::now(), lowest));
            out.committed.extend(pending);
            // Half the time rely on the re-check and polling paths instead.
            if rng.bool() {
                store.wake_subscribers();
            }
        }
    }
    out
}

/// Events until a `CaughtUp` covering `last`: everything up to it is final.
async fn receive(
    rx: &mut mpsc::UnboundedReceiver<SubscriptionItem>,
    last: u64,
) -> Vec<RecordedEvent> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(SubscriptionItem::Event(e))) => got.push(e),
            Ok(Some(SubscriptionItem::CaughtUp { position })) if position >= last => break,
            Ok(Some(SubscriptionItem::CaughtUp { .. })) => {}
            Ok(Some(other)) => panic!("unexpected item: {other:?}"),
            Ok(None) => panic!("the subscription ended after {} events", got.len()),
            Err(_) => panic!("not caught up to {last} after 60 s ({} events)", got.len()),
        }
    }
    // Nothing more may follow: no duplicates, no rolled-back events.
    let extra = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            match rx.recv().await {
                Some(SubscriptionItem::Event(e)) => return Some(e),
                Some(SubscriptionItem::CaughtUp { .. }) => {}
                Some(other) => panic!("unexpected item: {other:?}"),
                None => return None,
            }
        }
    })
    .await;
    if let Ok(Some(extra)) = extra {
        panic!("an unexpected extra event arrived: {extra:?}");
    }
    got
}

fn assert_delivery(
    name: &str,
    got: &[RecordedEvent],
    log: &[uuid::Uuid],
    rolled_back: &HashSet<uuid::Uuid>,
) {
    for pair in got.windows(2) {
        assert!(
            pair[0].global_position < pair[1].global_position,
            "{name}: positions went {} then {}",
            pair[0].global_position,
            pair[1].global_position
        );
    }
    let ids: Vec<_> = got.iter().map(|e| e.event_id).collect();
    assert!(
        !ids.iter().any(|id| rolled_back.contains(id)),
        "{name}: a rolled-back event was delivered"
    );
    assert_eq!(ids.len(), log.len(), "{name}: wrong number of events");
    assert!(
        ids == log,
        "{name}: delivery order differs from the table's global order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tailing_subscribers_never_skip_or_repeat() {
    let store = common::store_with(WRITERS as u32 + 6, |o| {
        o.with_poll_interval(Duration::from_millis(250))
    })
    .await;
    // Another instance on its own pool, like another process: it learns of
    // appends only through NOTIFY, re-checks and polling.
    let remote = common::same_schema(&store, "eventsource-tests-remote", |o| o).await;
    let mut local = common::tail(&store, EventFilter::all());
    let mut far = common::tail(&remote, EventFilter::all());
    let mut odd = common::tail(
        &store,
        EventFilter::all().with_aggregate_types([AGGREGATES[1]]),
    );
    let mut noted = common::tail(&remote, EventFilter::all().with_event_names([NAMES[1]]));

    let seed = fastrand::u64(..);
    println!("gap test seed: {seed}");
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(store.clone(), seed.wrapping_add(w as u64))))
        .collect();
    let mut committed = HashSet::new();
    let mut rolled_back = HashSet::new();
    let mut commits = Vec::new();
    for w in writers {
        let out = w.await.unwrap();
        committed.extend(out.committed);
        rolled_back.extend(out.rolled_back);
        commits.extend(out.commits);
    }
    assert!(!rolled_back.is_empty(), "no transaction rolled back");

    let sql = format!(
        "SELECT event_id, global_position, aggregate_type, event_name FROM \"{}\".events \
         ORDER BY global_position",
        store.schema()
    );
    let rows: Vec<(uuid::Uuid, i64, String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap();
    let log: Vec<uuid::Uuid> = rows.iter().map(|(id, ..)| *id).collect();
    // What each filter must deliver: the matching rows, in the table's order.
    let matching = |keep: &dyn Fn(&str, &str) -> bool| -> Vec<uuid::Uuid> {
        rows.iter()
            .filter(|(_, _, aggregate, name)| keep(aggregate, name))
            .map(|(id, ..)| *id)
            .collect()
    };
    let other_log = matching(&|aggregate, _| aggregate == AGGREGATES[1]);
    let noted_log = matching(&|_, name| name == NAMES[1]);
    for (name, subset) in [("aggregate type", &other_log), ("event name", &noted_log)] {
        assert!(
            !subset.is_empty() && subset.len() < log.len(),
            "the {name} filter must select a strict, non-empty subset ({} of {})",
            subset.len(),
            log.len()
        );
    }
    let last = rows.last().map_or(0, |(_, p, ..)| *p as u64);
    let stored: HashSet<_> = log.iter().copied().collect();
    assert_eq!(
        stored, committed,
        "the table holds other events than those committed"
    );

    // The scenario must really contain gaps: a transaction that committed
    // after another one yet holds lower positions.
    commits.sort_by_key(|(at, _)| *at);
    let overtaken = commits
        .windows(2)
        .filter(|pair| pair[1].1 < pair[0].1)
        .count();
    assert!(
        overtaken > 0,
        "no commit landed below an earlier one; the test proves nothing"
    );
    println!(
        "{} events committed, {} rolled back, {overtaken} late commits below earlier ones",
        log.len(),
        rolled_back.len()
    );

    let got = receive(&mut local, last).await;
    assert_delivery("local subscriber", &got, &log, &rolled_back);
    let got = receive(&mut far, last).await;
    assert_delivery("other-process subscriber", &got, &log, &rolled_back);
    let got = receive(&mut odd, last).await;
    assert_delivery("aggregate-type subscriber", &got, &other_log, &rolled_back);
    assert!(got.iter().all(|e| &*e.aggregate_type == AGGREGATES[1]));
    let got = receive(&mut noted, last).await;
    assert_delivery("event-name subscriber", &got, &noted_log, &rolled_back);
    assert!(got.iter().all(|e| &*e.event_name == NAMES[1]));

    // A reader starting now sees the same history.
    let all: Vec<RecordedEvent> =
        futures::TryStreamExt::try_collect(store.read_all(0, EventFilter::all()))
            .await
            .unwrap();
    assert_delivery("read_all", &all, &log, &rolled_back);
    drop((local, far, odd, noted));
    common::drop_schema(&store).await;
}
