//! Moving streams' older events into the archive table (the rules are in
//! `eventsource::store::archive`), one short transaction per batch of
//! streams.
//!
//! A batch locks each stream's last event (so a concurrent delete waits for
//! it, and it for the delete), makes sure the archive has partitions for
//! the positions it may move, then moves every earlier event in one
//! statement: deleted from `events` and inserted into `events_archive`
//! with the same columns. Committed, the rows are in the archive; rolled
//! back or killed, they are still hot. A rerun moves what is left, so the
//! job needs no state of its own to resume.
//!
//! The transaction holds a transaction id, and so the subscribers' horizon,
//! for as long as it runs: a batch is kept to a few streams.

use eventsource::StoreError;
use eventsource::store::ArchivedStream;
use sqlx::{PgPool, Row};

use crate::error::store_error;
use crate::schema::Identifier;
use crate::sql::Sql;

/// Locks the last event of each stream in `$1` and returns its version.
/// Streams without events are absent from the result.
const LOCK_LAST: &str = "\
SELECT l.stream_id, l.stream_version
FROM unnest($1::text[]) AS s(stream_id)
CROSS JOIN LATERAL (
    SELECT e.stream_id, e.stream_version FROM {schema}.events AS e
    WHERE e.stream_id = s.stream_id
    ORDER BY e.stream_version DESC LIMIT 1
    FOR UPDATE
) AS l";

/// Creates the archive partitions covering every position of the streams in `$1`.
const ENSURE_PARTITIONS: &str = "\
SELECT {schema}.archive_partitions(min(global_position), max(global_position))
FROM {schema}.events WHERE stream_id = ANY($1)";

/// Moves the events of each stream `$1[i]` before version `$2[i]` from the
/// hot table into the archive; how many per stream.
const MOVE: &str = "\
WITH moved AS (
    DELETE FROM {schema}.events AS e
    USING unnest($1::text[], $2::bigint[]) AS k(stream_id, last_version)
    WHERE e.stream_id = k.stream_id AND e.stream_version < k.last_version
    RETURNING e.global_position, e.transaction_id, e.stream_id, e.aggregate_type,
        e.stream_version, e.event_id, e.event_name, e.schema_version, e.payload,
        e.metadata, e.recorded_at, e.tenant_id
), archived AS (
    INSERT INTO {schema}.events_archive (global_position, transaction_id, stream_id,
        aggregate_type, stream_version, event_id, event_name, schema_version, payload,
        metadata, recorded_at, tenant_id)
    SELECT global_position, transaction_id, stream_id, aggregate_type, stream_version,
        event_id, event_name, schema_version, payload, metadata, recorded_at, tenant_id
    FROM moved
    RETURNING stream_id
)
SELECT stream_id, count(*) FROM archived GROUP BY stream_id";

/// The archive moves of one store.
#[derive(Debug)]
pub(crate) struct Archiver {
    pool: PgPool,
    lock_last: Sql,
    ensure_partitions: Sql,
    move_events: Sql,
}

impl Archiver {
    pub(crate) fn new(pool: PgPool, schema: &Identifier) -> Self {
        Self {
            pool,
            lock_last: Sql::new(LOCK_LAST, schema),
            ensure_partitions: Sql::new(ENSURE_PARTITIONS, schema),
            move_events: Sql::new(MOVE, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("archive lock_last", &self.lock_last),
            ("archive ensure_partitions", &self.ensure_partitions),
            ("archive move", &self.move_events),
        ]
    }

    pub(crate) async fn archive_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<ArchivedStream>, StoreError> {
        // One order for every batch, so two jobs lock in the same order.
        let mut ids: Vec<&str> = stream_ids.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let mut streams = Vec::with_capacity(ids.len());
        for row in sqlx::query(self.lock_last.get())
            .bind(&ids)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?
        {
            let stream_id: String = row.try_get(0).map_err(store_error)?;
            let version: i64 = row.try_get(1).map_err(store_error)?;
            streams.push((stream_id, version));
        }
        sqlx::query(self.ensure_partitions.get())
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let (locked, lasts): (Vec<&str>, Vec<i64>) =
            streams.iter().map(|(id, v)| (id.as_str(), *v)).unzip();
        let mut moved = std::collections::HashMap::new();
        for row in sqlx::query(self.move_events.get())
            .bind(&locked)
            .bind(&lasts)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?
        {
            let stream_id: String = row.try_get(0).map_err(store_error)?;
            let count: i64 = row.try_get(1).map_err(store_error)?;
            moved.insert(stream_id, u64::try_from(count).unwrap_or(0));
        }
        tx.commit().await.map_err(store_error)?;
        Ok(streams
            .into_iter()
            .map(|(stream_id, version)| ArchivedStream {
                moved: moved.get(&stream_id).copied().unwrap_or(0),
                last_version: u64::try_from(version).unwrap_or(0),
                stream_id,
            })
            .collect())
    }
}
