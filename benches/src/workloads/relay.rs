//! The JetStream relay (`eventsource-nats`): events read from a store,
//! published to JetStream and acknowledged, against raw async-nats
//! publishes of the same messages, pipelined the same way.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use bytes::Bytes;
use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::store::{EventFilter, EventStore, ExpectedVersion};
use eventsource::{Metadata, NewEvent, RecordedEvent};
use eventsource_nats::headers;
use eventsource_nats::relay::{Relay, RelayOptions};
use eventsource_nats::stream::{self, StreamSettings};
use eventsource_nats::subject::SubjectScheme;
use futures::TryStreamExt;
use tokio::runtime::Runtime;

use crate::measure::{Comparison, Settings, interleave, progress};
use crate::report::{Body, Row, Section};

/// Events per publish batch, for both sides (the relay's default).
const BATCH: usize = 256;
/// Streams the events are spread over.
const STREAMS: usize = 100;

fn unique(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("BENCH_RELAY_{tag}_{nanos}_{:08x}", fastrand::u32(..))
}

fn settings_for(name: &str) -> StreamSettings {
    StreamSettings::new(name, vec![format!("{name}.>")]).expect("valid stream settings")
}

fn not_measured(why: String) -> Section {
    Section {
        number: "12",
        title: "JetStream relay",
        method: String::new(),
        body: Body::NotMeasured(why),
    }
}

pub(crate) fn run(rt: &Runtime, settings: &Settings) -> Section {
    // The JetStream context starts a task of its own when it is made.
    let _entered = rt.enter();
    let url = eventsource_nats::url_from_env();
    let client = match rt.block_on(eventsource_nats::connect(&url, Duration::from_secs(5))) {
        Ok(client) => client,
        Err(error) => return not_measured(format!("No NATS server: {error}.")),
    };
    let count = settings.scaled(20_000, 2_000);
    let store = InMemoryStore::new();
    let events: Vec<RecordedEvent> = rt.block_on(async {
        for i in 0..count {
            let event = NewEvent::new(
                "bench.Deposited",
                1,
                format!(r#"{{"account":"acc-{}","amount":{i}}}"#, i % STREAMS),
                Metadata::new().with_correlation_id(eventsource::uuid::Uuid::now_v7()),
            );
            store
                .append(
                    &format!("acc-{}", i % STREAMS),
                    "bench.Account",
                    ExpectedVersion::Any,
                    vec![event],
                )
                .await
                .expect("append");
        }
        store
            .read_all(1, EventFilter::all())
            .try_collect()
            .await
            .expect("read back")
    });
    let head = events.last().map_or(0, |e| e.global_position);
    let jetstream = jetstream::new(client.clone());

    let mut relay = || {
        rt.block_on(async {
            let name = unique("R");
            let options = RelayOptions::new("bench-relay", settings_for(&name))
                .expect("options")
                .with_subjects(SubjectScheme::prefixed(&name).expect("prefix"))
                .with_batch_size(BATCH);
            let started = Instant::now();
            let relay = Relay::new(
                store.clone(),
                InMemoryProjectionBackend::new(),
                client.clone(),
                options,
            )
            .spawn();
            relay
                .wait_until(head, Duration::from_secs(600))
                .await
                .expect("the relay publishes everything");
            let elapsed = started.elapsed();
            relay.stop().await.expect("the relay stops");
            let _ = jetstream.delete_stream(&name).await;
            count as f64 / elapsed.as_secs_f64()
        })
    };
    let mut raw = || {
        rt.block_on(async {
            let name = unique("B");
            let subjects = SubjectScheme::prefixed(&name).expect("prefix");
            let started = Instant::now();
            stream::ensure(&jetstream, &settings_for(&name))
                .await
                .expect("a stream");
            for batch in events.chunks(BATCH) {
                let mut acks = Vec::with_capacity(batch.len());
                for event in batch {
                    let subject = subjects
                        .subject(&event.aggregate_type, &event.stream_id)
                        .expect("a subject");
                    acks.push(
                        jetstream
                            .publish_with_headers(
                                subject,
                                headers::for_event(event),
                                Bytes::copy_from_slice(event.payload.as_bytes()),
                            )
                            .await
                            .expect("publish"),
                    );
                }
                for ack in acks {
                    ack.await.expect("acknowledged");
                }
            }
            let elapsed = started.elapsed();
            let _ = jetstream.delete_stream(&name).await;
            count as f64 / elapsed.as_secs_f64()
        })
    };
    let sides: &mut [&mut dyn FnMut() -> f64] = &mut [&mut relay, &mut raw];
    let samples = interleave(settings.rounds, sides);
    let comparison = Comparison::of(&samples[0], &samples[1]);
    progress(&comparison);
    Section {
        number: "12",
        title: "JetStream relay",
        method: format!(
            "{count} events over {STREAMS} streams in an in-memory store, published to a new \
             JetStream stream per round (created in the round) by `eventsource-nats`'s relay \
             (subscription, subjects, headers, `Nats-Msg-Id`, the expected-sequence chain, \
             every acknowledgement awaited, the checkpoint saved after each batch of {BATCH}) \
             until its checkpoint reaches the last event, against the same messages (same \
             subjects, headers and payloads) published with raw async-nats, {BATCH} in \
             flight, then their acknowledgements awaited. The ratio is relay ÷ raw: 1 means \
             the relay costs nothing over publishing."
        ),
        body: Body::Measured {
            ours: "relay",
            baseline: "raw async-nats publish".into(),
            rows: vec![Row::new(
                format!("{count} events published and acknowledged"),
                "events/s",
                comparison,
            )],
            notes: vec![
                "Both sides pay the server's round trips and its disk writes (file storage); \
                 the relay also encodes each record's headers and keeps its checkpoint and \
                 lease (in memory here, so the figure is the relay's own cost, not \
                 PostgreSQL's)."
                    .to_owned(),
            ],
        },
    }
}
