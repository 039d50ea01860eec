//! The source: projection runners and sagas fed from JetStream, for
//! services that reach NATS but not the database.
//!
//! [`JetStreamSource`] is an [`EventStore`] that reads the stream a
//! [`Relay`](crate::relay::Relay) writes: give it to a
//! [`ProjectionRunner`](eventsource::projection::ProjectionRunner) in place
//! of the store, and the same `#[projection]` types and sagas run on it,
//! with the same checkpoints, leases, retries and dead letters as on
//! PostgreSQL. It cannot append.
//!
//! # Delivery
//!
//! Each projection (each slot: name and version) reads through a durable
//! pull consumer of its own, named `<service>-<slot>`. When the runner
//! subscribes, at start or after a failure, the consumer is placed anew
//! at the projection's checkpoint (the stream is in global order, so the
//! position's sequence is found by binary search): JetStream would
//! otherwise hand over first the messages it never saw acknowledged, and
//! the rest only after the ack wait, out of order. Messages are read in
//! stream order, so in global order and in order per stream.
//!
//! A message is acknowledged only after the runner committed past it
//! (the runner calls [`EventStore::committed`] after each commit); the
//! checkpoint itself lives with the read model, in the runner's backend,
//! so a transactional read model is exactly-once here too.
//!
//! # Bad messages
//!
//! A message that cannot be read back as an event (missing or malformed
//! headers, a record the store could not read) is handed to the runner as
//! [`SubscriptionItem::Corrupt`](eventsource::store::SubscriptionItem::Corrupt) and parked; an event whose payload does not
//! decode is parked by the runner as on PostgreSQL; events the projection
//! does not handle (names it does not know among them) are passed over.
//! None of them stops the projection.

mod acks;
mod inner;
mod options;
mod subscription;

use std::sync::Arc;

use async_trait::async_trait;
use eventsource::NewEvent;
use eventsource::store::{
    AppendResult, EventFilter, EventStore, EventStream, ExpectedVersion, StoreError, Subscription,
};

use crate::error::NatsError;
use crate::headers::{self, Decoded};
use crate::stream;
use inner::Inner;

pub use options::SourceOptions;

/// An event store read from a JetStream stream (see the module docs).
///
/// ```no_run
/// use eventsource::memory::InMemoryProjectionBackend;
/// use eventsource::projection::ProjectionRunner;
/// use eventsource_nats::source::{JetStreamSource, SourceOptions};
/// # use std::time::Duration;
/// # use eventsource::prelude::*;
/// # #[derive(Event, Debug, serde::Serialize, serde::Deserialize)]
/// # #[event(name = "docs.nats.Visited")]
/// # struct Visited;
/// # #[derive(Default)]
/// # struct PageViews { total: u64 }
/// # #[projection(name = "docs.nats.page_views")]
/// # impl PageViews {
/// #     async fn on_visited(&mut self, _e: &Visited) { self.total += 1; }
/// # }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = eventsource_nats::connect("nats://127.0.0.1:4222", Duration::from_secs(5)).await?;
/// let source = JetStreamSource::new(client, SourceOptions::new("EVENTS", "billing")?);
/// let runner = ProjectionRunner::new(source)?;
/// runner.start(PageViews::default(), InMemoryProjectionBackend::new()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct JetStreamSource {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JetStreamSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamSource")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl JetStreamSource {
    /// A source reading through `client`. Must be called inside a Tokio
    /// runtime (the JetStream context starts a task).
    pub fn new(client: async_nats::Client, options: SourceOptions) -> Self {
        Self {
            inner: Arc::new(Inner::new(client, options)),
        }
    }

    /// Its options.
    pub fn options(&self) -> &SourceOptions {
        &self.inner.options
    }
}

fn read_only(operation: &'static str) -> StoreError {
    StoreError::Unsupported { operation }
}

#[async_trait]
impl EventStore for JetStreamSource {
    async fn append(
        &self,
        _stream_id: &str,
        _aggregate_type: &str,
        _expected: ExpectedVersion,
        _events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        Err(read_only(
            "appending (a JetStream source is read-only: append to the store its relay reads)",
        ))
    }

    fn read_stream(&self, _stream_id: &str, _from_version: u64) -> EventStream {
        Box::pin(futures::stream::once(async {
            Err(read_only("reading one stream from a JetStream source"))
        }))
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        let inner = self.inner.clone();
        Box::pin(async_stream::stream! {
            let name = inner.options.stream.clone();
            let found = async {
                let stream = inner.stream().await?;
                let start = stream::locate(&stream, &name, from_position.max(1)).await?;
                let tail = stream::tail(&stream, &name).await?;
                Ok::<_, NatsError>((stream, start, tail.sequence))
            };
            let (stream, start, end) = match found.await {
                Ok(found) => found,
                Err(error) => {
                    yield Err(error.into_store_error());
                    return;
                }
            };
            let mut last_position = from_position.saturating_sub(1);
            for sequence in start..=end {
                let message = match stream::message_at(&stream, &name, sequence).await {
                    Ok(Some(message)) => message,
                    Ok(None) => continue,
                    Err(error) => {
                        yield Err(error.into_store_error());
                        return;
                    }
                };
                match headers::decode(Some(&message.headers), &message.payload, last_position) {
                    Decoded::Event(event) => {
                        last_position = event.global_position;
                        if filter.matches(&event) {
                            yield Ok(event);
                        }
                    }
                    Decoded::Corrupt(record) => {
                        last_position = record.global_position;
                        yield Err(StoreError::Corrupt {
                            global_position: record.global_position,
                            reason: record.reason,
                        });
                    }
                }
            }
        })
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        self.subscribe_as("anonymous", from_position, filter)
    }

    fn subscribe_as(
        &self,
        consumer: &str,
        from_position: u64,
        filter: EventFilter,
    ) -> Subscription {
        subscription::subscribe(
            self.inner.clone(),
            consumer.to_owned(),
            from_position,
            filter,
        )
    }

    fn committed(&self, consumer: &str, position: u64) {
        self.inner.acks.committed(consumer, position);
    }

    async fn stream_version(&self, _stream_id: &str) -> Result<Option<u64>, StoreError> {
        Err(read_only("stream versions from a JetStream source"))
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let name = &self.inner.options.stream;
        let stream = self
            .inner
            .stream()
            .await
            .map_err(NatsError::into_store_error)?;
        let tail = stream::tail(&stream, name)
            .await
            .map_err(NatsError::into_store_error)?;
        Ok(tail.position.unwrap_or(0))
    }
}
