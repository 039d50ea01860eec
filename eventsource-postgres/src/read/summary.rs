//! What the log holds, summarised for operators: its streams, and its
//! distinct event names and schema versions. Both read committed rows as
//! they are (no horizon: nothing is delivered in order from them), and
//! sort text byte by byte (`COLLATE "C"`), as the in-memory store does.

use eventsource::StoreError;
use eventsource::store::{StoredEventType, StreamQuery, StreamSummary};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::error::store_error;
use crate::schema::Identifier;
use crate::sql::Sql;

/// The last event of each stream passing the conditions: aggregate type
/// `$1`, id prefix `$2`, ids after `$3` (each skipped when null), at most `$4`.
const STREAMS: &str = "\
SELECT DISTINCT ON (stream_id COLLATE \"C\") stream_id, aggregate_type, stream_version,
    global_position, recorded_at
FROM {schema}.events
WHERE ($1::text IS NULL OR aggregate_type = $1)
    AND ($2::text IS NULL OR starts_with(stream_id, $2))
    AND ($3::text IS NULL OR stream_id COLLATE \"C\" > $3)
ORDER BY stream_id COLLATE \"C\", stream_version DESC
LIMIT $4";

/// Every distinct event name and schema version, with counts, archived
/// events included (a reader of the whole log meets them too).
const EVENT_TYPES: &str = "\
SELECT event_name, schema_version, count(*), min(global_position), max(global_position)
FROM (
    SELECT event_name, schema_version, global_position FROM {schema}.events
    UNION ALL
    SELECT event_name, schema_version, global_position FROM {schema}.events_archive
) AS log
GROUP BY event_name, schema_version
ORDER BY event_name COLLATE \"C\", schema_version";

/// The summaries of one store's log.
#[derive(Debug)]
pub(crate) struct Summaries {
    pool: PgPool,
    streams: Sql,
    event_types: Sql,
}

fn number<T: TryFrom<i64>>(row: &PgRow, index: usize, what: &str) -> Result<T, StoreError> {
    let value: i64 = row.try_get(index).map_err(store_error)?;
    T::try_from(value).map_err(|_| {
        StoreError::Backend(format!("the events table holds a {what} of {value}").into())
    })
}

impl Summaries {
    pub(crate) fn new(pool: PgPool, schema: &Identifier) -> Self {
        Self {
            pool,
            streams: Sql::new(STREAMS, schema),
            event_types: Sql::new(EVENT_TYPES, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("streams", &self.streams),
            ("event_types", &self.event_types),
        ]
    }

    pub(crate) async fn streams(
        &self,
        query: &StreamQuery,
    ) -> Result<Vec<StreamSummary>, StoreError> {
        let rows = sqlx::query(self.streams.get())
            .bind(&query.aggregate_type)
            .bind(&query.prefix)
            .bind(&query.after)
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok(StreamSummary {
                    stream_id: row.try_get(0).map_err(store_error)?,
                    aggregate_type: row.try_get(1).map_err(store_error)?,
                    version: number(row, 2, "stream version")?,
                    last_position: number(row, 3, "global position")?,
                    last_recorded_at: crate::row::timestamp_of(
                        row,
                        4,
                        "a stream's last recording time",
                    )?,
                })
            })
            .collect()
    }

    pub(crate) async fn event_types(&self) -> Result<Vec<StoredEventType>, StoreError> {
        let rows = sqlx::query(self.event_types.get())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let version: i32 = row.try_get(1).map_err(store_error)?;
                Ok(StoredEventType {
                    event_name: row.try_get(0).map_err(store_error)?,
                    schema_version: u32::try_from(version).map_err(|_| {
                        StoreError::Backend(
                            format!("the events table holds a schema version of {version}").into(),
                        )
                    })?,
                    count: number(row, 2, "count")?,
                    first_position: number(row, 3, "global position")?,
                    last_position: number(row, 4, "global position")?,
                })
            })
            .collect()
    }
}
