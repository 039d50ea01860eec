//! `SnapshotStore` for [`PgEventStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use eventsource::StoreError;
use eventsource::store::{Snapshot, SnapshotStore};
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::PgEventStore;
use crate::error::{is_bad_value, store_error, to_i64};

#[async_trait]
impl SnapshotStore for PgEventStore {
    /// Upserts, unless the stored snapshot has a higher version (decided in
    /// the statement, so concurrent savers cannot regress it).
    async fn save(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        sqlx::query(self.inner.sql.save_snapshot.get())
            .bind(&*snapshot.stream_id)
            .bind(&*snapshot.aggregate_type)
            .bind(to_i64("snapshot version", snapshot.version)?)
            .bind(to_i64("snapshot revision", snapshot.revision)?)
            .bind(&*snapshot.state)
            .bind(snapshot.taken_at)
            .execute(&self.inner.pool)
            .await
            .map_err(|err| {
                if is_bad_value(&err) {
                    StoreError::invalid(format!(
                        "the snapshot of `{}` is not JSON PostgreSQL accepts: {err}",
                        snapshot.stream_id
                    ))
                } else {
                    store_error(err)
                }
            })?;
        Ok(())
    }

    async fn load(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(self.inner.sql.load_snapshot.get())
            .bind(stream_id)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| decode(&row)).transpose()
    }

    async fn delete(&self, stream_id: &str) -> Result<(), StoreError> {
        sqlx::query(self.inner.sql.delete_snapshot.get())
            .bind(stream_id)
            .execute(&self.inner.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

fn decode(row: &PgRow) -> Result<Snapshot, StoreError> {
    let stream_id: &str = row.try_get(0).map_err(store_error)?;
    let unsigned = |index: usize, what: &str| -> Result<u64, StoreError> {
        let value: i64 = row.try_get(index).map_err(store_error)?;
        u64::try_from(value).map_err(|_| {
            StoreError::Backend(
                format!("the snapshot of `{stream_id}` has a negative {what} ({value})").into(),
            )
        })
    };
    Ok(Snapshot {
        stream_id: stream_id.into(),
        aggregate_type: row.try_get::<&str, _>(1).map_err(store_error)?.into(),
        version: unsigned(2, "version")?,
        revision: unsigned(3, "revision")?,
        state: row.try_get::<&str, _>(4).map_err(store_error)?.into(),
        taken_at: row.try_get::<DateTime<Utc>, _>(5).map_err(store_error)?,
    })
}
