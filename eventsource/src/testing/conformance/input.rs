//! Bad input: every store refuses the same requests, at append, with the
//! same [`StoreError::Invalid`] naming the field, and writes nothing.

use super::Outcome;
use super::support::*;
use crate::event::{Metadata, NewEvent};
use crate::store::ExpectedVersion::{Any, NoStream};
use crate::store::rules::{MAX_EVENT_NAME_BYTES, MAX_STREAM_ID_BYTES};
use crate::store::{EventStore, RequestField, StoreError};
use crate::testing::conformance::Subject;

/// Appends `events` to `stream` and expects a refusal of `field` in the
/// event at `event`, whose message starts with `starts`; then checks that
/// nothing was written.
async fn refused(
    store: &dyn EventStore,
    stream: &str,
    aggregate: &str,
    events: Vec<NewEvent>,
    field: RequestField,
    event: Option<usize>,
    starts: &str,
) -> Outcome {
    let head = store.head_position().await.step("head_position")?;
    match store.append(stream, aggregate, NoStream, events).await {
        Err(StoreError::Invalid(invalid)) => {
            ensure!(
                invalid.field() == Some(field) && invalid.event() == event,
                "refused for {:?} of event {:?}, expected {field:?} of event {event:?}: {invalid}",
                invalid.field(),
                invalid.event()
            );
            let message = invalid.to_string();
            ensure!(
                message.starts_with(starts),
                "the refusal reads `{message}`, expected it to start with `{starts}`"
            );
        }
        other => {
            return Err(format!(
                "expected `{field}` to be refused as Invalid, got {other:?}"
            ));
        }
    }
    let after = store.head_position().await.step("head_position")?;
    ensure!(
        after == head,
        "a refused append moved the head from {head} to {after}"
    );
    Ok(())
}

fn with_payload(payload: &str) -> NewEvent {
    NewEvent::new("conformance.Happened", 1, payload, Metadata::new())
}

pub(super) async fn payload_that_is_not_json_is_invalid(s: Subject) -> Outcome {
    let store = &*s.events;
    for bad in ["{\"n\":", "not json", "{} {}", ""] {
        let events = vec![event("conformance.Happened", 1), with_payload(bad)];
        refused(
            store,
            "a",
            AGG,
            events,
            RequestField::Payload,
            Some(1),
            "`payload` of event 1 of the batch is not JSON: ",
        )
        .await?;
    }
    refused(
        store,
        "a",
        AGG,
        vec![with_payload(r#"{"text":"a\u0000b"}"#)],
        RequestField::Payload,
        Some(0),
        "`payload` of event 0 of the batch contains a NUL character in a string",
    )
    .await
}

pub(super) async fn schema_version_zero_is_invalid(s: Subject) -> Outcome {
    let events = vec![NewEvent::new(
        "conformance.Happened",
        0,
        "{}",
        Metadata::new(),
    )];
    refused(
        &*s.events,
        "a",
        AGG,
        events,
        RequestField::SchemaVersion,
        Some(0),
        "`schema_version` of event 0 of the batch is 0; schema versions start at 1",
    )
    .await
}

pub(super) async fn empty_names_are_invalid(s: Subject) -> Outcome {
    let store = &*s.events;
    let events = vec![NewEvent::new("", 1, "{}", Metadata::new())];
    refused(
        store,
        "a",
        AGG,
        events,
        RequestField::EventName,
        Some(0),
        "`event_name` of event 0 of the batch is empty",
    )
    .await?;
    refused(
        store,
        "a",
        "",
        batch(1, 1),
        RequestField::AggregateType,
        None,
        "`aggregate_type` is empty",
    )
    .await
}

pub(super) async fn overlong_names_are_invalid(s: Subject) -> Outcome {
    let store = &*s.events;
    let long_stream = "s".repeat(MAX_STREAM_ID_BYTES + 1);
    refused(
        store,
        &long_stream,
        AGG,
        batch(1, 1),
        RequestField::StreamId,
        None,
        &format!(
            "`stream_id` is {} bytes long; the most is {MAX_STREAM_ID_BYTES}",
            MAX_STREAM_ID_BYTES + 1
        ),
    )
    .await?;
    // The longest allowed is stored.
    let longest = "s".repeat(MAX_STREAM_ID_BYTES);
    store
        .append(&longest, AGG, Any, batch(1, 1))
        .await
        .step("append to the longest stream id allowed")?;
    let long_name = "e".repeat(MAX_EVENT_NAME_BYTES + 1);
    refused(
        store,
        "a",
        AGG,
        vec![NewEvent::new(long_name, 1, "{}", Metadata::new())],
        RequestField::EventName,
        Some(0),
        &format!(
            "`event_name` of event 0 of the batch is {} bytes long; the most is {MAX_EVENT_NAME_BYTES}",
            MAX_EVENT_NAME_BYTES + 1
        ),
    )
    .await
}

pub(super) async fn nul_characters_are_invalid(s: Subject) -> Outcome {
    let store = &*s.events;
    refused(
        store,
        "a\0b",
        AGG,
        batch(1, 1),
        RequestField::StreamId,
        None,
        "`stream_id` contains a NUL character",
    )
    .await?;
    refused(
        store,
        "a",
        AGG,
        vec![NewEvent::new("conformance.\0", 1, "{}", Metadata::new())],
        RequestField::EventName,
        Some(0),
        "`event_name` of event 0 of the batch contains a NUL character",
    )
    .await?;
    let header = Metadata::new().with_header("tenant", "a\0b");
    refused(
        store,
        "a",
        AGG,
        vec![NewEvent::new("conformance.Happened", 1, "{}", header)],
        RequestField::Metadata,
        Some(0),
        "`metadata` of event 0 of the batch has a NUL character in header `tenant`",
    )
    .await
}
