//! One subscription of a consumer: a durable pull consumer placed at the
//! consumer's checkpoint, read in stream order.

use std::sync::Arc;

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, pull};
use eventsource::RecordedEvent;
use eventsource::store::{EventFilter, StoreError, Subscription, SubscriptionItem};
use futures::StreamExt;

use super::inner::Inner;
use crate::error::NatsError;
use crate::headers::{self, Decoded};
use crate::stream;

/// The durable consumer of `consumer` (a projection's slot) for a source
/// of `service`: letters, digits and `-` kept, every other byte `_XX`.
pub(super) fn durable_name(service: &str, consumer: &str) -> String {
    let mut name = format!("{service}-");
    for byte in consumer.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("_{byte:02X}"));
        }
    }
    name
}

/// Subscribes `consumer` from `from` (see [`JetStreamSource`](super::JetStreamSource)).
pub(super) fn subscribe(
    inner: Arc<Inner>,
    consumer: String,
    from: u64,
    filter: EventFilter,
) -> Subscription {
    Box::pin(async_stream::stream! {
        let from = from.max(1);
        let name = inner.options.stream.clone();
        let durable = durable_name(&inner.options.service, &consumer);
        let setup = async {
            let stream = inner.stream().await?;
            let start = stream::locate(&stream, &name, from).await?;
            // A consumer kept from an earlier run would first deliver what
            // it had not seen acknowledged, and redeliver the rest only
            // after its ack wait, out of order: it is placed anew at the
            // checkpoint, which the read model's backend keeps with the
            // read model.
            let _ = stream.delete_consumer(&durable).await;
            let config = pull::Config {
                durable_name: Some(durable.clone()),
                deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: start },
                ack_policy: AckPolicy::All,
                ack_wait: inner.options.ack_wait,
                max_ack_pending: inner.options.max_ack_pending,
                ..pull::Config::default()
            };
            let consumer = stream
                .create_consumer(config)
                .await
                .map_err(|e| NatsError::jetstream("create the durable consumer", &name, e))?;
            let tail = stream::tail(&stream, &name).await?;
            let messages = consumer
                .messages()
                .await
                .map_err(|e| NatsError::jetstream("pull from the durable consumer", &name, e))?;
            Ok::<_, NatsError>((messages, start > tail.sequence))
        };
        let (mut messages, empty) = match setup.await {
            Ok(setup) => setup,
            Err(error) => {
                yield Err(error.into_store_error());
                return;
            }
        };
        let delivered = inner.acks.open(&consumer, inner.jetstream.client());
        if empty {
            yield Ok(SubscriptionItem::CaughtUp { position: from - 1 });
        }
        let mut last_sequence = 0;
        let mut last_position = from - 1;
        loop {
            let message = match messages.next().await {
                Some(Ok(message)) => message,
                Some(Err(error)) => {
                    yield Err(NatsError::jetstream("pull a message", &name, error).into_store_error());
                    return;
                }
                None => {
                    yield Err(StoreError::Connection("the JetStream consumer ended".into()));
                    return;
                }
            };
            let (sequence, pending) = match message.info() {
                Ok(info) => (info.stream_sequence, info.pending),
                Err(error) => {
                    yield Err(NatsError::jetstream("read a delivery's metadata", &name, error).into_store_error());
                    return;
                }
            };
            // A redelivery after the ack wait, of a message this
            // subscription has handed over already.
            if sequence <= last_sequence {
                continue;
            }
            last_sequence = sequence;
            let decoded = headers::decode(message.headers.as_ref(), &message.payload, last_position);
            let position = match &decoded {
                Decoded::Event(event) => event.global_position,
                Decoded::Corrupt(record) => record.global_position,
            };
            if let Some(reply) = message.reply.clone() {
                delivered.push(position.max(last_position), reply);
            }
            if position < from {
                continue;
            }
            last_position = position;
            match decoded {
                Decoded::Event(event) if filter.matches(&event) => {
                    yield Ok(SubscriptionItem::Event(event));
                }
                Decoded::Event(_) => {}
                Decoded::Corrupt(record) => {
                    // Without a name to filter on, every consumer parks it:
                    // nobody can tell whether it was theirs.
                    if record.event_name.is_empty()
                        || passes(&filter, &record.event_name, &record.aggregate_type)
                    {
                        yield Ok(SubscriptionItem::Corrupt(record));
                    }
                }
            }
            if pending == 0 {
                yield Ok(SubscriptionItem::CaughtUp { position: last_position });
            }
        }
    })
}

/// Whether `filter` passes a record of `event_name` in `aggregate_type`
/// (a corrupt record: its time is not asked about).
fn passes(filter: &EventFilter, event_name: &str, aggregate_type: &str) -> bool {
    let probe = RecordedEvent {
        event_name: event_name.into(),
        payload: "".into(),
        stream_version: 0,
        global_position: 0,
        schema_version: 0,
        recorded_at: chrono::Utc::now(),
        stream_id: "".into(),
        aggregate_type: aggregate_type.into(),
        event_id: uuid::Uuid::nil(),
        metadata: Default::default(),
    };
    filter.matches(&probe)
}

#[cfg(test)]
mod tests {
    use super::durable_name;

    #[test]
    fn durable_names_are_distinct_and_plain() {
        let a = durable_name("svc", "orders.summary@v2");
        let b = durable_name("svc", "orders_summary@v2");
        assert_ne!(a, b);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
    }
}
