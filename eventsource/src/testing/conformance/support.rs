//! Small helpers shared by the checks: events to append, assertions, waits.

use std::any::Any;
use std::fmt::Display;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};

use crate::clock::Clock;
use crate::event::{Metadata, NewEvent, RecordedEvent};
use crate::store::StoreError;
use crate::store::{EventFilter, EventStore, ExpectedVersion, Subscription, SubscriptionItem};

use super::Outcome;

/// The aggregate type most checks write.
pub(super) const AGG: &str = "conformance.Thing";

/// How long a subscription may take to deliver what a check waits for.
pub(super) const LIVE_WAIT: Duration = Duration::from_secs(10);

/// Fails the check with a formatted message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(super) use ensure;

/// Turns a store result into a check result, naming the step that failed.
pub(super) trait Step<T> {
    fn step(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Step<T> for Result<T, E> {
    fn step(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: unexpected error: {e}"))
    }
}

/// An event named `name` whose payload carries `n`, with full metadata.
pub(super) fn event(name: &str, n: u64) -> NewEvent {
    let metadata = Metadata::new()
        .with_correlation_id(Clock::current().uuid_v7())
        .with_causation_id(Clock::current().uuid_v7())
        .with_actor("conformance")
        .with_header("n", n.to_string());
    NewEvent::new(
        name,
        1,
        format!(r#"{{"n":{n},"text":"événement \"{n}\""}}"#),
        metadata,
    )
}

/// `count` events named `conformance.Happened`, numbered from `first`.
pub(super) fn batch(first: u64, count: u64) -> Vec<NewEvent> {
    (first..first + count)
        .map(|n| event("conformance.Happened", n))
        .collect()
}

/// Whether two JSON texts hold the same value (stores may normalise text).
pub(super) fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Checks that a stored event is `sent`, unchanged.
pub(super) fn same_event(stored: &RecordedEvent, sent: &NewEvent) -> Outcome {
    ensure!(
        stored.event_id == sent.event_id,
        "event id {} read back as {}",
        sent.event_id,
        stored.event_id
    );
    ensure!(
        stored.event_name == sent.event_name,
        "event {} has name `{}`, expected `{}`",
        sent.event_id,
        stored.event_name,
        sent.event_name
    );
    ensure!(
        stored.schema_version == sent.schema_version,
        "event {} has schema version {}, expected {}",
        sent.event_id,
        stored.schema_version,
        sent.schema_version
    );
    ensure!(
        same_json(&stored.payload, &sent.payload),
        "event {} payload {} does not equal the appended {}",
        sent.event_id,
        stored.payload,
        sent.payload
    );
    ensure!(
        *stored.metadata == sent.metadata,
        "event {} metadata {:?} does not equal the appended {:?}",
        sent.event_id,
        stored.metadata,
        sent.metadata
    );
    Ok(())
}

/// Appends and names the step on failure.
pub(super) async fn append(
    store: &dyn EventStore,
    stream: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<crate::store::AppendResult, String> {
    store
        .append(stream, AGG, expected, events)
        .await
        .step(&format!("append to `{stream}` expecting {expected}"))
}

/// Expects a conflict reporting `actual` for an append to `stream`.
pub(super) fn expect_conflict<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    stream: &str,
    expected: ExpectedVersion,
    actual: Option<u64>,
) -> Outcome {
    match result {
        Err(StoreError::Conflict {
            stream_id,
            expected: e,
            actual: a,
        }) => {
            ensure!(
                &*stream_id == stream && e == expected && a == actual,
                "conflict reported stream `{stream_id}`, expected {e}, actual {a:?}; \
                 wanted stream `{stream}`, expected {expected}, actual {actual:?}"
            );
            Ok(())
        }
        other => Err(format!(
            "append to `{stream}` expecting {expected} (actual {actual:?}) should conflict, got {other:?}"
        )),
    }
}

pub(super) async fn read_stream(
    store: &dyn EventStore,
    stream: &str,
    from: u64,
) -> Result<Vec<RecordedEvent>, String> {
    store
        .read_stream(stream, from)
        .try_collect()
        .await
        .step(&format!("read_stream(`{stream}`, {from})"))
}

pub(super) async fn read_all(
    store: &dyn EventStore,
    from: u64,
    filter: EventFilter,
) -> Result<Vec<RecordedEvent>, String> {
    store
        .read_all(from, filter)
        .try_collect()
        .await
        .step(&format!("read_all({from})"))
}

/// Checks that positions strictly increase.
pub(super) fn increasing(events: &[RecordedEvent]) -> Outcome {
    for pair in events.windows(2) {
        ensure!(
            pair[0].global_position < pair[1].global_position,
            "global positions do not strictly increase: {} then {}",
            pair[0].global_position,
            pair[1].global_position
        );
    }
    if let Some(first) = events.first() {
        ensure!(first.global_position > 0, "global position 0 was used");
    }
    Ok(())
}

/// The next item of a subscription, failing on error, end or timeout.
pub(super) async fn next_item(sub: &mut Subscription) -> Result<SubscriptionItem, String> {
    match Clock::current().timeout(LIVE_WAIT, sub.next()).await {
        Err(_) => Err(format!("subscription delivered nothing for {LIVE_WAIT:?}")),
        Ok(None) => Err("subscription ended".into()),
        Ok(Some(Err(e))) => Err(format!("subscription failed: {e}")),
        Ok(Some(Ok(item))) => Ok(item),
    }
}

/// The next `count` events of a subscription, skipping `CaughtUp` markers.
pub(super) async fn next_events(
    sub: &mut Subscription,
    count: usize,
) -> Result<Vec<RecordedEvent>, String> {
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        if let SubscriptionItem::Event(e) = next_item(sub).await? {
            events.push(e);
        }
    }
    Ok(events)
}

/// Reads until a `CaughtUp` at or past `position`, returning the events seen.
pub(super) async fn until_caught_up(
    sub: &mut Subscription,
    position: u64,
) -> Result<(Vec<RecordedEvent>, u64), String> {
    let mut events = Vec::new();
    loop {
        match next_item(sub).await? {
            SubscriptionItem::Event(e) => events.push(e),
            SubscriptionItem::CaughtUp { position: p } if p >= position => {
                return Ok((events, p));
            }
            SubscriptionItem::CaughtUp { .. } => {}
            SubscriptionItem::Corrupt(record) => {
                return Err(format!(
                    "a record written through the store reads back as corrupt: {}",
                    record.reason
                ));
            }
        }
    }
}

pub(super) fn ids(events: &[RecordedEvent]) -> Vec<uuid::Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

pub(super) fn sent_ids(events: &[NewEvent]) -> Vec<uuid::Uuid> {
    events.iter().map(|e| e.event_id).collect()
}

pub(super) fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    }
}
