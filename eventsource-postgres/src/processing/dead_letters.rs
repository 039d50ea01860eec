//! Parked events on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use eventsource::StoreError;
use eventsource::projection::{DeadLetterStore, ParkedEvent, SkippedEvent};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::{store_error, to_i64};
use crate::schema::Identifier;
use crate::sql::Sql;

/// Parks `$2` of projection `$1`, or records another failure of it.
const PARK: &str = "\
INSERT INTO {schema}.dead_letters AS d (projection, global_position, event_id,
    stream_id, stream_version, event_name, error, attempts, parked_at,
    schema_version, payload, metadata, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (projection, global_position, tenant_id) DO UPDATE
SET error = EXCLUDED.error, attempts = EXCLUDED.attempts,
    parked_at = EXCLUDED.parked_at,
    skipped_at = NULL, skip_reason = NULL, skipped_by = NULL";

const LIST: &str = "\
SELECT projection, global_position, event_id, stream_id, stream_version,
    event_name, error, attempts, parked_at, schema_version, payload, metadata,
    recorded_at FROM {schema}.dead_letters
WHERE projection = $1 AND skipped_at IS NULL ORDER BY global_position";

const COUNT: &str =
    "SELECT count(*) FROM {schema}.dead_letters WHERE projection = $1 AND skipped_at IS NULL";

/// Marks the event parked for `$1` at `$2` as skipped for reason `$3` by `$4` at `$5`.
const SKIP: &str = "\
UPDATE {schema}.dead_letters
SET skipped_at = $5, skip_reason = $3, skipped_by = $4
WHERE projection = $1 AND global_position = $2 AND skipped_at IS NULL";

const SKIPPED: &str = "\
SELECT projection, global_position, event_id, stream_id, stream_version,
    event_name, error, attempts, parked_at, schema_version, payload, metadata,
    recorded_at, skipped_at, skip_reason, skipped_by FROM {schema}.dead_letters
WHERE projection = $1 AND skipped_at IS NOT NULL ORDER BY global_position";

const REMOVE: &str =
    "DELETE FROM {schema}.dead_letters WHERE projection = $1 AND global_position = $2";

const CLEAR: &str = "DELETE FROM {schema}.dead_letters WHERE projection = $1";

/// The statements of the dead-letter store.
#[derive(Debug)]
pub(crate) struct Statements {
    park: Sql,
    list: Sql,
    count: Sql,
    remove: Sql,
    clear: Sql,
    skip: Sql,
    skipped: Sql,
}

impl Statements {
    pub(crate) fn new(schema: &Identifier) -> Self {
        Self {
            park: Sql::new(PARK, schema),
            list: Sql::new(LIST, schema),
            count: Sql::new(COUNT, schema),
            remove: Sql::new(REMOVE, schema),
            clear: Sql::new(CLEAR, schema),
            skip: Sql::new(SKIP, schema),
            skipped: Sql::new(SKIPPED, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn all(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("park", &self.park),
            ("list_parked", &self.list),
            ("count_parked", &self.count),
            ("remove_parked", &self.remove),
            ("clear_parked", &self.clear),
            ("skip_parked", &self.skip),
            ("list_skipped", &self.skipped),
        ]
    }
}

/// A [`DeadLetterStore`] in the store's schema (table `dead_letters`).
#[derive(Clone, Debug)]
pub struct PgDeadLetterStore {
    pool: PgPool,
    sql: Arc<Statements>,
}

impl PgDeadLetterStore {
    pub(crate) fn new(pool: PgPool, sql: Arc<Statements>) -> Self {
        Self { pool, sql }
    }
}

/// Decodes a `dead_letters` row. The table has no checks on its numbers,
/// so a negative one (written by hand, say) is reported as
/// [`StoreError::Corrupt`] at the parked event's position, never read as 0.
fn parked(row: &PgRow) -> Result<ParkedEvent, StoreError> {
    let projection: String = row.try_get("projection").map_err(store_error)?;
    let raw_position: i64 = row.try_get("global_position").map_err(store_error)?;
    let corrupt = |global_position: u64, what: String| StoreError::Corrupt {
        global_position,
        reason: format!("dead letter of projection `{projection}`: {what}"),
    };
    let global_position = u64::try_from(raw_position)
        .map_err(|_| corrupt(0, format!("negative global position {raw_position}")))?;
    let version: i64 = row.try_get("stream_version").map_err(store_error)?;
    let stream_version = u64::try_from(version).map_err(|_| {
        corrupt(
            global_position,
            format!("negative stream version {version}"),
        )
    })?;
    let schema: i32 = row.try_get("schema_version").map_err(store_error)?;
    let schema_version = u32::try_from(schema)
        .map_err(|_| corrupt(global_position, format!("negative schema version {schema}")))?;
    let attempts: i32 = row.try_get("attempts").map_err(store_error)?;
    let attempts = u32::try_from(attempts).map_err(|_| {
        corrupt(
            global_position,
            format!("negative attempt count {attempts}"),
        )
    })?;
    Ok(ParkedEvent {
        global_position,
        event_id: row.try_get::<Uuid, _>("event_id").map_err(store_error)?,
        stream_id: row.try_get("stream_id").map_err(store_error)?,
        stream_version,
        event_name: row.try_get("event_name").map_err(store_error)?,
        schema_version,
        payload: row.try_get("payload").map_err(store_error)?,
        metadata: row.try_get("metadata").map_err(store_error)?,
        recorded_at: crate::row::optional_timestamp_of(
            row,
            "recorded_at",
            "a parked event's recording time",
        )?,
        error: row.try_get("error").map_err(store_error)?,
        attempts,
        parked_at: crate::row::timestamp_of(row, "parked_at", "a parked event's time parked")?,
        projection,
    })
}

#[async_trait]
impl DeadLetterStore for PgDeadLetterStore {
    async fn park(&self, event: ParkedEvent) -> Result<(), StoreError> {
        sqlx::query(self.sql.park.get())
            .bind(&event.projection)
            .bind(to_i64("position", event.global_position)?)
            .bind(event.event_id)
            .bind(&event.stream_id)
            .bind(to_i64("stream version", event.stream_version)?)
            .bind(&event.event_name)
            .bind(&event.error)
            .bind(i32::try_from(event.attempts).unwrap_or(i32::MAX))
            .bind(event.parked_at)
            .bind(i32::try_from(event.schema_version).unwrap_or(i32::MAX))
            .bind(&event.payload)
            .bind(&event.metadata)
            .bind(event.recorded_at)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn list(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        let rows = sqlx::query(self.sql.list.get())
            .bind(projection)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(parked).collect()
    }

    async fn count(&self, projection: &str) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query(self.sql.count.get())
            .bind(projection)
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(store_error)?;
        // count(*) is never negative; if the server says otherwise, say so.
        u64::try_from(count).map_err(|_| {
            StoreError::Backend(
                format!("the server counted {count} dead letters of `{projection}`").into(),
            )
        })
    }

    async fn remove(&self, projection: &str, position: u64) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql.remove.get())
            .bind(projection)
            .bind(to_i64("position", position)?)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn clear(&self, projection: &str) -> Result<(), StoreError> {
        sqlx::query(self.sql.clear.get())
            .bind(projection)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn skip(
        &self,
        projection: &str,
        position: u64,
        reason: &str,
        skipped_by: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql.skip.get())
            .bind(projection)
            .bind(to_i64("position", position)?)
            .bind(reason)
            .bind(skipped_by)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn skipped(&self, projection: &str) -> Result<Vec<SkippedEvent>, StoreError> {
        let rows = sqlx::query(self.sql.skipped.get())
            .bind(projection)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok(SkippedEvent {
                    parked: parked(row)?,
                    reason: row.try_get("skip_reason").map_err(store_error)?,
                    skipped_by: row.try_get("skipped_by").map_err(store_error)?,
                    skipped_at: row.try_get("skipped_at").map_err(store_error)?,
                })
            })
            .collect()
    }
}
