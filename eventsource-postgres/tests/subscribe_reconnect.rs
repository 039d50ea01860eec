//! Subscriptions across dropped connections and across processes.

mod common;

use std::time::{Duration, Instant};

use eventsource::store::{EventFilter, EventStore, ExpectedVersion, SubscriptionItem};
use eventsource::{Metadata, NewEvent, RecordedEvent, StoreError};
use eventsource_postgres::PgEventStore;
use futures::{StreamExt, TryStreamExt};
use tokio::sync::mpsc;

fn batch(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent::new("test.Ticked", 1, format!(r#"{{"i":{i}}}"#), Metadata::new()))
        .collect()
}

/// Forwards a subscription's items (errors included) until dropped.
fn tail(store: &PgEventStore) -> mpsc::UnboundedReceiver<Result<SubscriptionItem, StoreError>> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut sub = store.subscribe(0, EventFilter::all());
    tokio::spawn(async move {
        while let Some(item) = sub.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx
}

async fn events_until(
    rx: &mut mpsc::UnboundedReceiver<Result<SubscriptionItem, StoreError>>,
    last: u64,
    within: Duration,
) -> Vec<RecordedEvent> {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(Ok(SubscriptionItem::Event(e)))) => got.push(e),
            Ok(Some(Ok(SubscriptionItem::CaughtUp { position }))) if position >= last => {
                return got;
            }
            Ok(Some(Ok(SubscriptionItem::CaughtUp { .. }))) => {}
            Ok(Some(Ok(other))) => panic!("unexpected item: {other:?}"),
            Ok(Some(Err(e))) => panic!("the subscription yielded an error: {e}"),
            Ok(None) => panic!("the subscription ended after {} events", got.len()),
            Err(_) => panic!(
                "not caught up to {last} within {within:?} ({} events)",
                got.len()
            ),
        }
    }
}

async fn terminate(store: &PgEventStore, application_name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND pid <> pg_backend_pid()) AS killed",
    )
    .bind(application_name)
    .fetch_one(store.pool())
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_survives_its_connections_being_killed() {
    survives_killed_connections(true).await;
}

/// Without the pool's ping, dead connections surface as failed queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_survives_killed_connections_without_pool_pings() {
    survives_killed_connections(false).await;
}

async fn survives_killed_connections(ping: bool) {
    let writer = common::store().await;
    let reader_name = format!("es-reader-{:08x}", fastrand::u32(..));
    let configure =
        |o: eventsource_postgres::PgStoreOptions| o.with_poll_interval(Duration::from_millis(200));
    let reader = if ping {
        common::same_schema(&writer, &reader_name, configure).await
    } else {
        common::same_schema_unpinged(&writer, &reader_name, configure).await
    };
    let mut rx = tail(&reader);
    let mut killed = 0;
    let mut last = 0;
    for round in 0..40 {
        last = writer
            .append(
                &format!("s{}", round % 5),
                "test.Clock",
                ExpectedVersion::Any,
                batch(5),
            )
            .await
            .unwrap()
            .last_position;
        if round % 8 == 4 {
            // Both the reader's pooled connections and its LISTEN connection.
            killed += terminate(&writer, &reader_name).await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        killed > 0,
        "no reader connection was terminated; the test proves nothing"
    );
    let got = events_until(&mut rx, last, Duration::from_secs(30)).await;
    let log: Vec<RecordedEvent> = writer
        .read_all(0, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        got.len(),
        200,
        "events were lost or repeated across reconnects"
    );
    let ids = |events: &[RecordedEvent]| events.iter().map(|e| e.event_id).collect::<Vec<_>>();
    assert_eq!(
        ids(&got),
        ids(&log),
        "the delivery order differs from the log"
    );
    println!("terminated {killed} reader connections during the run");
    common::drop_schema(&writer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_wakes_a_subscriber_in_another_process_at_once() {
    let writer = common::store().await;
    // Polling is slow enough that only NOTIFY can explain a quick delivery.
    let reader = common::same_schema(&writer, "es-notified", |o| {
        o.with_poll_interval(Duration::from_secs(60))
    })
    .await;
    let mut rx = tail(&reader);
    events_until(&mut rx, 0, Duration::from_secs(10)).await;
    // Give the LISTEN connection a moment; a reconnect re-checks anyway.
    tokio::time::sleep(Duration::from_millis(200)).await;
    for round in 0..3 {
        let started = Instant::now();
        let r = writer
            .append("s", "test.Clock", ExpectedVersion::Any, batch(1))
            .await
            .unwrap();
        let got = events_until(&mut rx, r.last_position, Duration::from_secs(5)).await;
        assert_eq!(got.len(), 1, "round {round}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "delivery took {:?}",
            started.elapsed()
        );
    }
    common::drop_schema(&writer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_limit_ends_the_subscription_with_a_connection_error() {
    let store = common::store().await;
    // Two connections: a pool of one is refused outright (see pool_size.rs).
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(200))
        .connect_lazy("postgres://nobody@127.0.0.1:1/none")
        .unwrap();
    let broken =
        PgEventStore::with_options(pool, store.options().clone().with_reconnect_limit(Some(2)));
    let mut sub = broken.subscribe(0, EventFilter::all());
    let item = tokio::time::timeout(Duration::from_secs(30), sub.next())
        .await
        .expect("the subscription gave up in time");
    assert!(
        matches!(item, Some(Err(StoreError::Connection(_)))),
        "{item:?}"
    );
    assert!(
        sub.next().await.is_none(),
        "the subscription went on after giving up"
    );
    common::drop_schema(&store).await;
}
