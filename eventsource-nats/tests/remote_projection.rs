//! A projection fed from JetStream (through the relay) ends equal to the
//! same projection fed from PostgreSQL directly, also across a restart of
//! the remote runner; every message is acknowledged once committed.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use eventsource::memory::InMemoryProjectionBackend;
use eventsource::prelude::*;
use eventsource::projection::ProjectionRunner;
use eventsource::store::EventStore;
use eventsource_nats::relay::{Relay, RelayOptions};
use eventsource_nats::source::{JetStreamSource, SourceOptions};
use eventsource_nats::stream::StreamSettings;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "natsremote.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "natsremote.Withdrawn")]
struct Withdrawn {
    amount: i64,
}

/// What the projection saw: per stream, every (version, position, amount)
/// in the order applied, so a lost, repeated or reordered event shows.
type Seen = Arc<Mutex<BTreeMap<String, Vec<(u64, u64, i64)>>>>;

struct Ledger {
    seen: Seen,
}

#[projection(name = "natsremote.ledger")]
impl Ledger {
    async fn on_deposited(&mut self, e: &Deposited, meta: &RecordedEvent) {
        self.record(meta, e.amount);
    }

    async fn on_withdrawn(&mut self, e: &Withdrawn, meta: &RecordedEvent) {
        self.record(meta, -e.amount);
    }
}

impl Ledger {
    fn record(&self, meta: &RecordedEvent, amount: i64) {
        self.seen
            .lock()
            .unwrap()
            .entry(meta.stream_id.to_string())
            .or_default()
            .push((meta.stream_version, meta.global_position, amount));
    }
}

async fn write(store: &impl EventStore, round: usize, count: usize) {
    for i in 0..count {
        let stream_id = ["acc.1", "acc 2", "Zürich", "plain"][i % 4];
        let event = if i % 3 == 0 {
            NewEvent::from_event(&Withdrawn { amount: i as i64 }, Metadata::new())
        } else {
            NewEvent::from_event(
                &Deposited {
                    amount: (round * 1000 + i) as i64,
                },
                Metadata::new(),
            )
        }
        .expect("encode");
        store
            .append(
                stream_id,
                "natsremote.Account",
                ExpectedVersion::Any,
                vec![event],
            )
            .await
            .expect("append");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_fed_from_jetstream_equals_one_fed_from_postgres() {
    let client = common::nats().await;
    let store = common::pg_store().await;
    let stream = common::unique("NATS_REMOTE");
    let settings = StreamSettings::new(&stream, vec![format!("{stream}.>")]).expect("settings");
    let options = RelayOptions::new("remote-relay", settings)
        .expect("options")
        .with_subjects(
            eventsource_nats::subject::SubjectScheme::prefixed(&stream).expect("prefix"),
        );
    let relay = Relay::new(
        store.clone(),
        store.projection_backend(),
        client.clone(),
        options,
    )
    .spawn();

    let local_seen = Seen::default();
    let local = ProjectionRunner::new(store.clone()).expect("a runner");
    local
        .start(
            Ledger {
                seen: local_seen.clone(),
            },
            InMemoryProjectionBackend::new(),
        )
        .await
        .expect("start locally");

    let source = JetStreamSource::new(
        client.clone(),
        SourceOptions::new(&stream, "reporting").expect("source options"),
    );
    let remote_seen = Seen::default();
    let remote_backend = InMemoryProjectionBackend::new();
    let remote = ProjectionRunner::new(source.clone()).expect("a runner");
    remote
        .start(
            Ledger {
                seen: remote_seen.clone(),
            },
            remote_backend.clone(),
        )
        .await
        .expect("start remotely");

    write(&store, 0, 120).await;
    let head = store.head_position().await.expect("head");
    let wait = Duration::from_secs(60);
    relay
        .wait_until(head, wait)
        .await
        .expect("the relay publishes");
    remote
        .wait_until("natsremote.ledger", head, wait)
        .await
        .expect("the remote projection catches up");

    // The remote service restarts: a new runner, the same checkpoint.
    remote.shutdown().await;
    write(&store, 1, 80).await;
    let remote = ProjectionRunner::new(source.clone()).expect("a runner");
    remote
        .start(
            Ledger {
                seen: remote_seen.clone(),
            },
            remote_backend.clone(),
        )
        .await
        .expect("restart remotely");
    write(&store, 2, 40).await;

    let head = store.head_position().await.expect("head");
    relay
        .wait_until(head, wait)
        .await
        .expect("the relay publishes");
    local
        .wait_until("natsremote.ledger", head, wait)
        .await
        .expect("the local projection catches up");
    remote
        .wait_until("natsremote.ledger", head, wait)
        .await
        .expect("the remote projection catches up");

    let local_view = local_seen.lock().unwrap().clone();
    let remote_view = remote_seen.lock().unwrap().clone();
    let applied: usize = remote_view.values().map(Vec::len).sum();
    println!(
        "{applied} events applied remotely over {} streams, {} locally",
        remote_view.len(),
        local_view.values().map(Vec::len).sum::<usize>()
    );
    assert_eq!(applied, 240);
    assert_eq!(remote_view, local_view);
    for (stream_id, events) in &remote_view {
        let versions: Vec<u64> = events.iter().map(|e| e.0).collect();
        let expected: Vec<u64> = (1..=events.len() as u64).collect();
        assert_eq!(versions, expected, "stream {stream_id} out of order");
    }
    assert!(
        remote
            .parked("natsremote.ledger")
            .await
            .expect("parked")
            .is_empty()
    );

    // Acknowledged up to the last message, once committed.
    let js = jetstream::new(client.clone());
    let mut js_stream = js.get_stream(&stream).await.expect("the stream");
    let last = js_stream.info().await.expect("info").state.last_sequence;
    let durable = js_stream
        .consumer_names()
        .next()
        .await
        .expect("a consumer")
        .expect("its name");
    let deadline = std::time::Instant::now() + wait;
    loop {
        let info = js_stream
            .consumer_info(&durable)
            .await
            .expect("consumer info");
        if info.ack_floor.stream_sequence == last {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "acknowledged up to {} of {last}",
            info.ack_floor.stream_sequence
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    remote.shutdown().await;
    local.shutdown().await;
    relay.stop().await.expect("the relay stops cleanly");
    common::delete_stream(&client, &stream).await;
    common::drop_schema(&store).await;
}
