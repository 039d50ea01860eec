//! `EventStore` for [`PgEventStore`].

use async_trait::async_trait;
use eventsource::store::{AppendResult, EventFilter, EventStream, Subscription};
use eventsource::{EventStore, ExpectedVersion, NewEvent, StoreError};
use sqlx::Row;

use crate::PgEventStore;
use crate::error::store_error;
use crate::read::subscribe;
use crate::{append, read};

#[async_trait]
impl EventStore for PgEventStore {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        append::append(&self.inner, stream_id, aggregate_type, expected, &events).await
    }

    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        read::read_stream(self.inner.clone(), stream_id, from_version)
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        read::read_all(self.inner.clone(), from_position, filter)
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        subscribe::subscribe(self.inner.clone(), from_position, filter)
    }

    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.inner.pool.acquire().await.map_err(store_error)?;
        let head = append::stream_head(&self.inner, &mut conn, stream_id).await?;
        Ok(head.map(|(version, _)| version))
    }

    /// The highest committed position. Events below it may still be
    /// committing (see the crate docs); `read_all` waits for them.
    /// Counted by the server (`count(*)` with the filter's conditions), up
    /// to the head as of the call, waiting like `read_all` for older
    /// transactions that may still commit below it.
    async fn count_events(
        &self,
        from_position: u64,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        read::count(&self.inner, from_position, &filter).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        let row = sqlx::query(self.inner.sql.head_position.get())
            .fetch_one(&self.inner.pool)
            .await
            .map_err(store_error)?;
        let head: i64 = row.try_get(0).map_err(store_error)?;
        Ok(u64::try_from(head).unwrap_or(0))
    }
}
