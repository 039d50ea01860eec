//! A store wrapper that makes the first appends meet before any proceeds.
//!
//! The walkthrough uses it to show a real version conflict: two commands
//! load the same account version, and neither appends until both have
//! decided, so exactly one of them wins and the other is retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use eventsource::NewEvent;
use eventsource::StoreError;
use eventsource::store::{
    AppendResult, EventFilter, EventStore, EventStream, ExpectedVersion, Subscription,
};
use tokio::sync::Barrier;

/// Delegates to `inner`, holding the first `parties` appends at a barrier.
pub(crate) struct Rendezvous {
    inner: Arc<dyn EventStore>,
    barrier: Barrier,
    waiting: AtomicUsize,
    parties: usize,
}

impl Rendezvous {
    /// Wraps `inner`; the first `parties` appends wait for each other.
    pub(crate) fn new(inner: Arc<dyn EventStore>, parties: usize) -> Self {
        Self {
            inner,
            barrier: Barrier::new(parties),
            waiting: AtomicUsize::new(0),
            parties,
        }
    }
}

#[async_trait]
impl EventStore for Rendezvous {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) < self.parties {
            self.barrier.wait().await;
        }
        self.inner
            .append(stream_id, aggregate_type, expected, events)
            .await
    }

    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        self.inner.read_stream(stream_id, from_version)
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        self.inner.read_all(from_position, filter)
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        self.inner.subscribe(from_position, filter)
    }

    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream_id).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }
}
