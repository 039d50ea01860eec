//! Subscriptions read their pages a page ahead of the consumer: every
//! committed event still arrives once, in order, under concurrent writers
//! whose transactions commit below later ones; and a subscription dropped
//! in the middle of a round gives its connection back.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use eventsource::store::{EventFilter, EventStore, ExpectedVersion, SubscriptionItem};
use eventsource::{Metadata, NewEvent, StoreError};
use eventsource_postgres::PgEventStore;
use futures::{StreamExt, TryStreamExt};

const WRITERS: usize = 6;
const TRANSACTIONS: usize = 40;
const PAGE: u32 = 16;

fn events(n: usize, tag: &str) -> Vec<NewEvent> {
    (0..n)
        .map(|i| {
            NewEvent::new(
                "test.Fetched",
                1,
                format!(r#"{{"i":{i},"tag":"{tag}"}}"#),
                Metadata::new(),
            )
        })
        .collect()
}

/// Transactions that take their ids early and commit late (some roll
/// back), each appending to a stream of its own: later-numbered commits
/// overtake them, so rounds end at horizons below committed events.
async fn writer(store: PgEventStore, seed: u64) -> HashSet<uuid::Uuid> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut committed = HashSet::new();
    for t in 0..TRANSACTIONS {
        let mut tx = store.pool().begin().await.unwrap();
        sqlx::query("SELECT pg_current_xact_id()")
            .execute(&mut *tx)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(rng.u64(0..8))).await;
        let batch = events(rng.usize(1..=40), &format!("{seed}-{t}"));
        let ids: Vec<_> = batch.iter().map(|e| e.event_id).collect();
        store
            .append_in(
                &mut tx,
                &format!("w{seed}-{t}"),
                "test.Thing",
                ExpectedVersion::NoStream,
                batch,
            )
            .await
            .unwrap();
        if rng.u8(0..5) == 0 {
            tx.rollback().await.unwrap();
        } else {
            tx.commit().await.unwrap();
            committed.extend(ids);
            if rng.bool() {
                store.wake_subscribers();
            }
        }
    }
    committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_reading_ahead_gets_every_event_once_in_order() {
    let store = common::store_with(WRITERS as u32 + 6, |o| {
        o.with_page_size(PAGE)
            .with_poll_interval(Duration::from_millis(200))
    })
    .await;
    // History first: the catch-up runs over many pages.
    for n in 0..20 {
        store
            .append(
                &format!("seed-{n}"),
                "test.Thing",
                ExpectedVersion::NoStream,
                events(50, "seed"),
            )
            .await
            .unwrap();
    }
    let mut subscription = store.subscribe(0, EventFilter::all());
    let seed = fastrand::u64(..);
    println!("prefetch test seed: {seed}");
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(store.clone(), seed.wrapping_add(w as u64))))
        .collect();

    // Consume while the writers run, now and then slower than the reads,
    // so the reader fills its channel and waits.
    let mut got = Vec::new();
    let mut writers_done = false;
    let mut writers = Some(writers);
    let mut committed = HashSet::new();
    let mut last = None;
    let mut caught_up = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "not caught up after 120 s ({} events)",
            got.len()
        );
        if !writers_done
            && writers
                .as_ref()
                .is_some_and(|w| w.iter().all(|h| h.is_finished()))
        {
            for handle in writers.take().unwrap_or_default() {
                committed.extend(handle.await.unwrap());
            }
            writers_done = true;
            last = Some(store.head_position().await.unwrap());
        }
        if let (Some(last), Some(covered)) = (last, caught_up)
            && covered >= last
        {
            break;
        }
        let Ok(item) = tokio::time::timeout(Duration::from_millis(200), subscription.next()).await
        else {
            continue;
        };
        match item
            .expect("the subscription goes on")
            .unwrap_or_else(|e| panic!("the subscription failed: {e}"))
        {
            SubscriptionItem::Event(event) => {
                got.push(event);
                if got.len() % 97 == 0 {
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
            }
            SubscriptionItem::CaughtUp { position } => caught_up = Some(position),
            other => panic!("unexpected item: {other:?}"),
        }
    }
    let sql = format!(
        "SELECT event_id FROM \"{}\".events ORDER BY global_position",
        store.schema()
    );
    let log: Vec<uuid::Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(
        committed.iter().all(|id| log.contains(id)),
        "a committed event is not in the table"
    );
    for pair in got.windows(2) {
        assert!(pair[0].global_position < pair[1].global_position);
    }
    let ids: Vec<uuid::Uuid> = got.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), log.len(), "every event once");
    assert!(ids == log, "delivered in the table's global order");
    assert!(
        log.len() > 10 * PAGE as usize,
        "the reads spanned many pages"
    );
    drop(subscription);
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_dropped_mid_round_gives_its_connection_back() {
    // Three connections, none kept for LISTEN: a reader task that kept its
    // connection after its subscription went would soon starve the pool.
    let store = common::store_with(3, |o| {
        o.with_page_size(10).with_notify_channel(None).unwrap()
    })
    .await;
    for n in 0..10 {
        store
            .append(
                &format!("s-{n}"),
                "test.Thing",
                ExpectedVersion::NoStream,
                events(100, "seed"),
            )
            .await
            .unwrap();
    }
    for round in 0..20 {
        let mut subscription = store.subscribe(0, EventFilter::all());
        for _ in 0..(15 + round) {
            match subscription.next().await {
                Some(Ok(SubscriptionItem::Event(_))) => {}
                other => panic!("expected an event, got {other:?}"),
            }
        }
        drop(subscription);
    }
    let work = async {
        let appends: Vec<_> = (0..3)
            .map(|n| {
                let store = store.clone();
                tokio::spawn(async move {
                    store
                        .append(
                            &format!("after-{n}"),
                            "test.Thing",
                            ExpectedVersion::NoStream,
                            events(1, "after"),
                        )
                        .await
                })
            })
            .collect();
        for append in appends {
            append.await.unwrap()?;
        }
        let all: Vec<_> = store.read_all(0, EventFilter::all()).try_collect().await?;
        Ok::<usize, StoreError>(all.len())
    };
    let read = tokio::time::timeout(Duration::from_secs(20), work)
        .await
        .expect("the pool's connections came back")
        .unwrap();
    assert_eq!(read, 1_003);
    common::drop_schema(&store).await;
}
