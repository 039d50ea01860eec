//! Polling alone: with `NOTIFY` off on both sides and the subscriber in
//! another store instance (so no in-process wake-up either), a tailing
//! subscriber must still receive every committed event, in order, once.

mod common;

use std::time::{Duration, Instant};

use eventsource::store::{EventFilter, EventStore, ExpectedVersion, SubscriptionItem};
use eventsource::{Metadata, NewEvent, RecordedEvent, StoreError};
use eventsource_postgres::PgEventStore;
use tokio::sync::mpsc;
use uuid::Uuid;

const AGG: &str = "test.Thing";
const WRITERS: u64 = 4;
const TRANSACTIONS: usize = 10;

fn event(n: usize) -> NewEvent {
    NewEvent::new(
        "test.Happened",
        1,
        format!(r#"{{"n":{n}}}"#),
        Metadata::new(),
    )
}

/// Transactions that sometimes take their id long before appending (so
/// that later ids commit first) and sometimes roll back.
async fn writer(store: PgEventStore, seed: u64) {
    let mut rng = fastrand::Rng::with_seed(seed);
    for t in 0..TRANSACTIONS {
        let mut tx = store.pool().begin().await.unwrap();
        if rng.bool() {
            sqlx::query("SELECT pg_current_xact_id()")
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..8))).await;
        let stream = format!("w{seed}-{}", rng.usize(0..3));
        let batch = (0..rng.usize(1..=3)).map(event).collect();
        match store
            .append_in(&mut tx, &stream, AGG, ExpectedVersion::Any, batch)
            .await
        {
            Ok(_) if rng.u8(0..5) > 0 => tx.commit().await.unwrap(),
            Ok(_) | Err(StoreError::Conflict { .. } | StoreError::Invalid(_)) => {
                tx.rollback().await.unwrap()
            }
            Err(other) => panic!("transaction {t} of writer {seed} failed: {other}"),
        }
    }
}

/// Events until (and with) the one with id `last`.
async fn receive_through(
    rx: &mut mpsc::UnboundedReceiver<SubscriptionItem>,
    last: Uuid,
) -> Vec<RecordedEvent> {
    // Hang guard only: polling every 50 ms delivers far sooner.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(SubscriptionItem::Event(e))) => {
                let done = e.event_id == last;
                got.push(e);
                if done {
                    return got;
                }
            }
            Ok(Some(SubscriptionItem::CaughtUp { .. })) => {}
            Ok(Some(other)) => panic!("unexpected item: {other:?}"),
            Ok(None) => panic!("the subscription ended after {} events", got.len()),
            Err(_) => panic!("the sentinel did not arrive ({} events so far)", got.len()),
        }
    }
}

async fn stored_ids(store: &PgEventStore) -> Vec<Uuid> {
    let sql = format!(
        "SELECT event_id FROM \"{}\".events ORDER BY global_position",
        store.schema()
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap()
}

/// Whether a session of `application_name` has issued `LISTEN`.
async fn listening(store: &PgEventStore, application_name: &str) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
         WHERE application_name = $1 AND query ILIKE 'LISTEN%')",
    )
    .bind(application_name)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_alone_delivers_every_event_in_order_once() {
    let quiet = |o: eventsource_postgres::PgStoreOptions| {
        o.with_notify_channel(None)
            .unwrap()
            .with_poll_interval(Duration::from_millis(50))
    };
    let store = common::store_with(WRITERS as u32 + 2, quiet).await;
    let poller = common::same_schema(&store, "eventsource-tests-poller", quiet).await;
    assert!(store.options().notify_channel().is_none());
    assert!(poller.options().notify_channel().is_none());
    let mut rx = common::tail(&poller, EventFilter::all());

    let seed = fastrand::u64(..);
    println!("polling test seed: {seed}");
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(store.clone(), seed.wrapping_add(w))))
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    // The last event, appended after all the others committed: once it is
    // delivered, anything missing, repeated or out of order would show.
    let sentinel = event(0);
    let sentinel_id = sentinel.event_id;
    store
        .append("sentinel", AGG, ExpectedVersion::NoStream, vec![sentinel])
        .await
        .unwrap();

    let log = stored_ids(&store).await;
    assert!(log.len() > 1, "no transaction committed");
    let got = receive_through(&mut rx, sentinel_id).await;
    let ids: Vec<Uuid> = got.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), log.len(), "wrong number of events delivered");
    assert!(
        ids == log,
        "delivery order differs from the stored global order"
    );
    assert!(!listening(&store, "eventsource-tests-poller").await);
    drop(rx);
    poller.pool().close().await;
    common::drop_schema(&store).await;
}
