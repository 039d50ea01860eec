//! Bad input meets typed errors, and never wedges anything: hostile stream
//! names, subjects a custom scheme gets wrong, a stream someone else
//! writes to, messages the source cannot read, an unreachable server.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use bytes::Bytes;
use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::prelude::*;
use eventsource::projection::ProjectionRunner;
use eventsource::store::{CorruptRecord, EventStore};
use eventsource_nats::NatsError;
use eventsource_nats::headers;
use eventsource_nats::relay::{Relay, RelayOptions};
use eventsource_nats::source::{JetStreamSource, SourceOptions};
use eventsource_nats::stream::{self, StreamSettings};
use eventsource_nats::subject::{SubjectScheme, decode_token, validate_subject};
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "natsbad.Known")]
struct Known {
    amount: i64,
}

struct Totals {
    amounts: Arc<Mutex<Vec<i64>>>,
}

#[projection(name = "natsbad.totals")]
impl Totals {
    async fn on_known(&mut self, e: &Known) {
        self.amounts.lock().unwrap().push(e.amount);
    }
}

const HOSTILE: &[&str] = &[
    "a.b",
    "a b",
    "*",
    ">",
    "a.*.>",
    "Zürich 日本",
    "%2E",
    "tab\tid",
    "new\nline",
    "..",
    " ",
    "emoji 🎉",
    "plain",
];

fn settings(stream: &str) -> StreamSettings {
    StreamSettings::new(stream, vec![format!("{stream}.>")]).expect("settings")
}

#[tokio::test]
async fn hostile_stream_names_get_valid_distinct_subjects() {
    let client = common::nats().await;
    let stream = common::unique("NATS_HOSTILE");
    let store = InMemoryStore::new();
    for (i, stream_id) in HOSTILE.iter().enumerate() {
        let event = NewEvent::from_event(&Known { amount: i as i64 }, Metadata::new()).unwrap();
        store
            .append(stream_id, "bad.Agg *>", ExpectedVersion::Any, vec![event])
            .await
            .unwrap_or_else(|e| panic!("append to {stream_id:?}: {e}"));
    }
    let options = RelayOptions::new("hostile", settings(&stream))
        .unwrap()
        .with_subjects(SubjectScheme::prefixed(&stream).unwrap());
    let relay = Relay::new(
        store.clone(),
        InMemoryProjectionBackend::new(),
        client.clone(),
        options,
    )
    .spawn();
    let head = store.head_position().await.unwrap();
    relay
        .wait_until(head, Duration::from_secs(30))
        .await
        .expect("published");
    relay.stop().await.expect("stops cleanly");

    let stored = common::read_stream(&client, &stream).await;
    assert_eq!(stored.len(), HOSTILE.len());
    let mut subjects = HashSet::new();
    for message in &stored {
        validate_subject(&message.subject).expect("a valid subject");
        let tokens: Vec<&str> = message.subject.split('.').collect();
        assert_eq!(tokens.len(), 3, "{}", message.subject);
        let event = message.event();
        assert_eq!(decode_token(tokens[1]).as_deref(), Ok("bad.Agg *>"));
        assert_eq!(decode_token(tokens[2]).as_deref(), Ok(&*event.stream_id));
        assert!(subjects.insert(message.subject.clone()), "shared subject");
    }
    common::delete_stream(&client, &stream).await;
}

#[tokio::test]
async fn a_custom_scheme_giving_an_invalid_subject_stops_the_relay_with_a_typed_error() {
    let client = common::nats().await;
    let stream = common::unique("NATS_BADSUBJ");
    let store = InMemoryStore::new();
    let event = NewEvent::from_event(&Known { amount: 1 }, Metadata::new()).unwrap();
    store
        .append("order 7", "shop.Order", ExpectedVersion::Any, vec![event])
        .await
        .unwrap();
    let raw = SubjectScheme::custom({
        let stream = stream.clone();
        move |_aggregate, stream_id| format!("{stream}.{stream_id}")
    });
    let options = RelayOptions::new("bad-subject", settings(&stream))
        .unwrap()
        .with_subjects(raw);
    let relay = Relay::new(
        store,
        InMemoryProjectionBackend::new(),
        client.clone(),
        options,
    );
    let outcome = tokio::time::timeout(Duration::from_secs(30), relay.run(std::future::pending()))
        .await
        .expect("the relay stops by itself");
    match outcome {
        Err(NatsError::Subject {
            position: 1,
            source,
        }) => {
            assert!(source.to_string().contains("a space"), "{source}");
        }
        other => panic!("expected a subject error, got {other:?}"),
    }
    common::delete_stream(&client, &stream).await;
}

#[tokio::test]
async fn a_stream_someone_else_writes_to_is_refused() {
    let client = common::nats().await;
    let stream = common::unique("NATS_FOREIGN");
    let js = jetstream::new(client.clone());
    stream::ensure(&js, &settings(&stream))
        .await
        .expect("a stream");
    js.publish(format!("{stream}.x"), Bytes::from_static(b"hello"))
        .await
        .expect("publish")
        .await
        .expect("stored");
    let store = InMemoryStore::new();
    let options = RelayOptions::new("foreign", settings(&stream))
        .unwrap()
        .with_subjects(SubjectScheme::prefixed(&stream).unwrap());
    let relay = Relay::new(
        store,
        InMemoryProjectionBackend::new(),
        client.clone(),
        options,
    );
    let outcome = tokio::time::timeout(Duration::from_secs(30), relay.run(std::future::pending()))
        .await
        .expect("the relay stops by itself");
    assert!(
        matches!(outcome, Err(NatsError::ForeignMessage { sequence: 1, .. })),
        "{outcome:?}"
    );
    common::delete_stream(&client, &stream).await;
}

fn event(position: u64, name: &str, payload: &str) -> RecordedEvent {
    RecordedEvent {
        event_name: name.into(),
        payload: payload.into(),
        stream_version: position / 10,
        global_position: position,
        schema_version: 1,
        recorded_at: chrono::Utc::now(),
        stream_id: "s-1".into(),
        aggregate_type: "natsbad.Account".into(),
        event_id: uuid::Uuid::now_v7(),
        metadata: Arc::new(Metadata::new()),
    }
}

#[tokio::test]
async fn messages_the_source_cannot_use_are_parked_or_passed_over_never_wedging() {
    let client = common::nats().await;
    let stream = common::unique("NATS_BADMSG");
    let js = jetstream::new(client.clone());
    stream::ensure(&js, &settings(&stream))
        .await
        .expect("a stream");
    let subject = format!("{stream}.natsbad.s-1");
    let publish = |headers: Option<async_nats::HeaderMap>, payload: String| {
        let js = js.clone();
        let subject = subject.clone();
        async move {
            let ack = match headers {
                Some(headers) => {
                    js.publish_with_headers(subject, headers, payload.into())
                        .await
                }
                None => js.publish(subject, payload.into()).await,
            };
            ack.expect("publish").await.expect("stored");
        }
    };
    let good = |position: u64, amount: i64| {
        let e = event(
            position,
            "natsbad.Known",
            &format!(r#"{{"amount":{amount}}}"#),
        );
        (Some(headers::for_event(&e)), e.payload.to_string())
    };
    let (h, p) = good(10, 1);
    publish(h, p).await;
    // A name no code here knows: passed over, as on PostgreSQL.
    let unknown = event(20, "natsbad.NobodyKnows", "{}");
    publish(Some(headers::for_event(&unknown)), "{}".into()).await;
    // No headers at all: parked as corrupt, where the log stood (20).
    publish(None, "garbage".into()).await;
    // A known name whose payload does not decode: parked by the runner.
    let undecodable = event(30, "natsbad.Known", r#"{"amount":"many"}"#);
    publish(
        Some(headers::for_event(&undecodable)),
        undecodable.payload.to_string(),
    )
    .await;
    let (h, p) = good(40, 4);
    publish(h, p).await;
    // A record the store itself could not read, relayed as it was.
    let corrupt = CorruptRecord {
        global_position: 50,
        event_id: None,
        stream_id: "s-1".into(),
        aggregate_type: "natsbad.Account".into(),
        stream_version: -1,
        event_name: "natsbad.Known".into(),
        schema_version: 1,
        payload: "{".into(),
        metadata: "not json".into(),
        recorded_at: None,
        reason: "metadata does not decode".into(),
    };
    publish(Some(headers::for_corrupt(&corrupt)), "{".into()).await;
    // A position header that is not a number.
    let (mut h, p) = good(60, 6);
    if let Some(h) = h.as_mut() {
        h.insert(headers::POSITION, "sixty");
    }
    publish(h, p).await;
    let (h, p) = good(70, 7);
    publish(h, p).await;

    let source = JetStreamSource::new(
        client.clone(),
        SourceOptions::new(&stream, "badmsg").unwrap(),
    );
    let amounts = Arc::new(Mutex::new(Vec::new()));
    let runner = ProjectionRunner::new(source).expect("a runner");
    runner
        .start(
            Totals {
                amounts: amounts.clone(),
            },
            InMemoryProjectionBackend::new(),
        )
        .await
        .expect("start");
    runner
        .wait_until("natsbad.totals", 70, Duration::from_secs(30))
        .await
        .expect("the projection gets past every bad message");
    assert_eq!(*amounts.lock().unwrap(), vec![1, 4, 7]);
    let mut parked: Vec<(u64, String)> = runner
        .parked("natsbad.totals")
        .await
        .expect("parked")
        .into_iter()
        .map(|p| (p.global_position, p.error))
        .collect();
    parked.sort();
    println!("parked: {parked:#?}");
    let positions: Vec<u64> = parked.iter().map(|p| p.0).collect();
    // The message without a readable position is parked where the log
    // stood, 50, in the place of the corrupt record parked there before.
    assert_eq!(positions, vec![20, 30, 50]);
    assert!(parked[0].1.contains("no headers"), "{}", parked[0].1);
    assert!(parked[1].1.contains("natsbad.Known"), "{}", parked[1].1);
    assert!(parked[2].1.contains("Es-Position"), "{}", parked[2].1);
    runner.shutdown().await;
    common::delete_stream(&client, &stream).await;
}

#[tokio::test]
async fn an_unreachable_server_is_a_typed_error_saying_what_to_do() {
    let error = eventsource_nats::connect("nats://127.0.0.1:1", Duration::from_secs(5))
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(error, NatsError::Unreachable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("nats-server -js"), "{message}");
    assert!(message.contains("NATS_URL"), "{message}");
}

#[test]
fn names_jetstream_cannot_take_are_refused() {
    for bad in ["", "a.b", "a b", "a*", "a>", "ü"] {
        assert!(
            matches!(
                StreamSettings::new(bad, vec![]),
                Err(NatsError::InvalidName { .. })
            ),
            "{bad:?}"
        );
        assert!(SourceOptions::new("ok", bad).is_err(), "{bad:?}");
    }
}
