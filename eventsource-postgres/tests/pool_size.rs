//! A pool too small for a live subscription is refused at once, not left to
//! hang: the subscription's `LISTEN` would hold the only connection.

mod common;

use std::time::Duration;

use eventsource::StoreError;
use eventsource::store::{EventFilter, EventStore, ExpectedVersion, SubscriptionItem};
use eventsource::{Metadata, NewEvent};
use futures::StreamExt;

fn event() -> NewEvent {
    NewEvent::new("pool.Happened", 1, "{}", Metadata::new())
}

#[tokio::test]
async fn a_subscription_on_a_pool_of_one_is_refused_at_once() {
    let store = common::store_with(1, |o| o).await;
    let mut live = store.subscribe(1, EventFilter::all());
    let first = tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .expect("the subscription must answer at once, not hang");
    match first {
        Some(Err(StoreError::Invalid(reason))) => {
            let reason = reason.to_string();
            assert!(
                reason.contains("LISTEN") && reason.contains("at least 2"),
                "{reason}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(live.next().await.is_none(), "the refused subscription ends");
    // The store itself still works.
    store
        .append(
            "p-1",
            "pool.Thing",
            ExpectedVersion::NoStream,
            vec![event()],
        )
        .await
        .unwrap();
    common::drop_schema(&store).await;
}

#[tokio::test]
async fn without_notifications_a_pool_of_one_serves_a_subscription_and_appends() {
    let store = common::store_with(1, |o| {
        o.with_notify_channel(None)
            .unwrap()
            .with_poll_interval(Duration::from_millis(20))
    })
    .await;
    let mut live = store.subscribe(1, EventFilter::all());
    let appended = tokio::time::timeout(
        Duration::from_secs(10),
        store.append(
            "p-1",
            "pool.Thing",
            ExpectedVersion::NoStream,
            vec![event()],
        ),
    )
    .await
    .expect("the append must not wait for the subscription's connection")
    .unwrap();
    let delivered = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(item) = live.next().await {
            if let Ok(SubscriptionItem::Event(e)) = item {
                return e.global_position;
            }
        }
        0
    })
    .await
    .unwrap();
    assert_eq!(delivered, appended.last_position);
    drop(live);
    common::drop_schema(&store).await;
}
