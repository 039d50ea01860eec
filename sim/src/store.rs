//! The event store under faults: every call may be delayed or fail, an
//! append may commit and still report an error, a subscription may break.

use async_trait::async_trait;
use eventsource::store::{
    AppendResult, EventFilter, EventStore, EventStream, ExpectedVersion, Subscription,
};
use eventsource::{NewEvent, RecordedEvent, StoreError};
use futures::StreamExt;

use crate::faults::Faults;

/// An [`EventStore`] passing every call to `inner` through [`Faults`].
#[derive(Clone, Debug)]
pub struct FaultyStore<S> {
    inner: S,
    faults: Faults,
}

impl<S: EventStore + Clone> FaultyStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

/// `stream` behind a fault decision taken when it is first polled.
fn guarded<T: Send + 'static>(
    faults: Faults,
    op: &'static str,
    stream: futures::stream::BoxStream<'static, Result<T, StoreError>>,
) -> futures::stream::BoxStream<'static, Result<T, StoreError>> {
    Box::pin(async_stream::stream! {
        if let Err(error) = faults.before(op).await {
            yield Err(error);
            return;
        }
        let mut stream = stream;
        while let Some(item) = stream.next().await {
            yield item;
        }
    })
}

#[async_trait]
impl<S: EventStore + Clone> EventStore for FaultyStore<S> {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.faults.before("append").await?;
        let result = self
            .inner
            .append(stream_id, aggregate_type, expected, events)
            .await?;
        self.faults.record(format_args!(
            "appended {stream_id} {}..={} replayed={}",
            result.first_position, result.last_position, result.replayed
        ));
        self.faults.after("append").await?;
        Ok(result)
    }

    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        let inner = self.inner.read_stream(stream_id, from_version);
        guarded(self.faults.clone(), "read_stream", inner)
    }

    async fn visit_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<(), StoreError> {
        self.faults.before("visit_stream").await?;
        self.inner
            .visit_stream(stream_id, from_version, visit)
            .await
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        let inner = self.inner.read_all(from_position, filter);
        guarded(self.faults.clone(), "read_all", inner)
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        delivered(
            self.faults.clone(),
            self.inner.subscribe(from_position, filter),
        )
    }

    // The runner names its consumer and reports its commits; a source that
    // keeps state per consumer must see both through the wrapper.
    fn subscribe_as(
        &self,
        consumer: &str,
        from_position: u64,
        filter: EventFilter,
    ) -> Subscription {
        delivered(
            self.faults.clone(),
            self.inner.subscribe_as(consumer, from_position, filter),
        )
    }

    fn committed(&self, consumer: &str, position: u64) {
        self.inner.committed(consumer, position);
    }

    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.faults.before("stream_version").await?;
        self.inner.stream_version(stream_id).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        self.faults.before("head_position").await?;
        self.inner.head_position().await
    }

    async fn count_events(
        &self,
        from_position: u64,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        self.faults.before("count_events").await?;
        self.inner.count_events(from_position, filter).await
    }
}

/// `inner` with faults before each delivery: an item may come late, or the
/// subscription may break before it (the subscriber then starts again from
/// its checkpoint).
fn delivered(faults: Faults, mut inner: Subscription) -> Subscription {
    Box::pin(async_stream::stream! {
        while let Some(item) = inner.next().await {
            if let Err(error) = faults.before("deliver").await {
                yield Err(error);
                return;
            }
            yield item;
        }
    })
}
