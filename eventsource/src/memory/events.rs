//! `EventStore` for the in-memory store.

use std::sync::Arc;

use async_trait::async_trait;

use super::{InMemoryStore, Shared};
use crate::event::{NewEvent, RecordedEvent};
use crate::store::StoreError;
use crate::store::{
    AppendResult, ArchiveStatus, ArchivedStream, DeleteMode, Deletion, EventFilter, EventStore,
    EventStream, ExpectedVersion, Subscription, SubscriptionItem, Truncation,
};

/// Events copied out per lock acquisition, so readers never hold the lock
/// across an `.await` and writers are not starved by long reads.
const CHUNK: usize = 512;

#[async_trait]
impl EventStore for InMemoryStore {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let appending = !events.is_empty();
        let result =
            self.shared
                .write()
                .append(stream_id, aggregate_type, expected, events, &self.clock)?;
        if appending && !result.replayed {
            self.shared.appended.notify_waiters();
        }
        Ok(result)
    }

    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        let shared = self.shared.clone();
        let stream_id: Arc<str> = stream_id.into();
        Box::pin(async_stream::stream! {
            let mut next = from_version.max(1);
            loop {
                let chunk = shared.read().stream_chunk(&stream_id, next, CHUNK);
                if chunk.is_empty() {
                    break;
                }
                if let Some(last) = chunk.last() {
                    next = last.stream_version + 1;
                }
                for event in chunk {
                    yield Ok(event);
                }
            }
        })
    }

    async fn visit_stream(
        &self,
        stream_id: &str,
        from_version: u64,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<(), StoreError> {
        let mut next = from_version.max(1);
        loop {
            // The lock is held for one chunk at a time, never across an await.
            let (after, stopped) = self
                .shared
                .read()
                .visit_stream_chunk(stream_id, next, CHUNK, visit);
            match after {
                Some(after) if !stopped => next = after,
                _ => return Ok(()),
            }
        }
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        let shared = self.shared.clone();
        Box::pin(async_stream::stream! {
            let until = shared.read().log.len() as u64;
            let mut next = from_position.max(1);
            while next <= until {
                let (chunk, scanned) = shared.read().log_chunk(next, until, &filter, CHUNK);
                next = scanned + 1;
                for event in chunk {
                    yield Ok(event);
                }
            }
        })
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        let shared = self.shared.clone();
        Box::pin(async_stream::stream! {
            let mut next = from_position.max(1);
            loop {
                // Wait for appends from before reading the head, so an
                // append racing with the read below still wakes the wait.
                let appended = shared.appended.notified();
                let mut appended = std::pin::pin!(appended);
                appended.as_mut().enable();
                let until = shared.read().log.len() as u64;
                while next <= until {
                    let (chunk, scanned) = scan(&shared, next, until, &filter);
                    next = scanned + 1;
                    for event in chunk {
                        yield Ok(SubscriptionItem::Event(event));
                    }
                }
                yield Ok(SubscriptionItem::CaughtUp { position: next - 1 });
                appended.await;
            }
        })
    }

    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.shared.read().version(stream_id))
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        Ok(self.shared.read().head())
    }

    async fn delete_stream(
        &self,
        stream_id: &str,
        mode: DeleteMode,
    ) -> Result<Deletion, StoreError> {
        let deletion = self
            .shared
            .write()
            .delete_stream(stream_id, mode, &self.clock)?;
        // The tombstone is an append: wake the subscribers.
        self.shared.appended.notify_waiters();
        Ok(deletion)
    }

    async fn recreate_stream(&self, stream_id: &str) -> Result<u64, StoreError> {
        self.shared.write().recreate_stream(stream_id)
    }

    async fn truncate_before(
        &self,
        stream_id: &str,
        before_version: u64,
    ) -> Result<Truncation, StoreError> {
        self.shared
            .write()
            .truncate_before(stream_id, before_version)
    }

    async fn archive_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<ArchivedStream>, StoreError> {
        let now = self.clock.now();
        Ok(self.shared.write().archive_streams(stream_ids, now))
    }

    fn read_archived_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        let shared = self.shared.clone();
        let stream_id: Arc<str> = stream_id.into();
        Box::pin(async_stream::stream! {
            let mut next = from_version.max(1);
            loop {
                let chunk = shared.read().archived_stream_chunk(&stream_id, next, CHUNK);
                let Some(last) = chunk.last() else {
                    break;
                };
                next = last.stream_version + 1;
                for event in chunk {
                    yield Ok(event);
                }
            }
        })
    }

    fn read_archive(&self, from_position: u64, to_position: u64) -> EventStream {
        let shared = self.shared.clone();
        Box::pin(async_stream::stream! {
            let mut next = from_position.max(1);
            while next <= to_position {
                let chunk = shared.read().archive_chunk(next, to_position, CHUNK);
                let Some(last) = chunk.last() else {
                    break;
                };
                next = last.global_position + 1;
                for event in chunk {
                    yield Ok(event);
                }
            }
        })
    }

    async fn archive_status(&self) -> Result<ArchiveStatus, StoreError> {
        Ok(self.shared.read().archive_status())
    }
}

fn scan(
    shared: &Shared,
    next: u64,
    until: u64,
    filter: &EventFilter,
) -> (Vec<crate::RecordedEvent>, u64) {
    shared.read().log_chunk(next, until, filter, CHUNK)
}
