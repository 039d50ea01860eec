//! Snapshots on PostgreSQL: the latest per stream (table `snapshots`).

use eventsource::StoreError;
use eventsource::store::Snapshot;
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};

use crate::error::{is_bad_value, store_error, to_i64};
use crate::schema::Identifier;
use crate::sql::Sql;

/// Upserts a snapshot unless the stored one has a higher version (decided
/// in the statement, so concurrent savers cannot regress it).
const SAVE: &str = "\
INSERT INTO {schema}.snapshots AS kept
    (stream_id, aggregate_type, version, revision, state, taken_at)
VALUES ($1, $2, $3, $4, $5::json, $6)
ON CONFLICT (stream_id, tenant_id) DO UPDATE SET
    aggregate_type = EXCLUDED.aggregate_type, version = EXCLUDED.version,
    revision = EXCLUDED.revision, state = EXCLUDED.state,
    taken_at = EXCLUDED.taken_at
WHERE kept.version <= EXCLUDED.version";

const LOAD: &str = "\
SELECT stream_id, aggregate_type, version, revision, state::text, taken_at
FROM {schema}.snapshots WHERE stream_id = $1";

const DELETE: &str = "DELETE FROM {schema}.snapshots WHERE stream_id = $1";

/// The snapshots of one store.
#[derive(Debug)]
pub(crate) struct Snapshots {
    pool: PgPool,
    save: Sql,
    load: Sql,
    delete: Sql,
}

impl Snapshots {
    pub(crate) fn new(pool: PgPool, schema: &Identifier) -> Self {
        Self {
            pool,
            save: Sql::new(SAVE, schema),
            load: Sql::new(LOAD, schema),
            delete: Sql::new(DELETE, schema),
        }
    }

    pub(crate) async fn save(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        sqlx::query(self.save.get())
            .bind(&*snapshot.stream_id)
            .bind(&*snapshot.aggregate_type)
            .bind(to_i64("snapshot version", snapshot.version)?)
            .bind(to_i64("snapshot revision", snapshot.revision)?)
            .bind(&*snapshot.state)
            .bind(snapshot.taken_at)
            .execute(&self.pool)
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

    pub(crate) async fn load(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(self.load.get())
            .bind(stream_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| decode(&row)).transpose()
    }

    pub(crate) async fn delete(&self, stream_id: &str) -> Result<(), StoreError> {
        sqlx::query(self.delete.get())
            .bind(stream_id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("save_snapshot", &self.save),
            ("load_snapshot", &self.load),
            ("delete_snapshot", &self.delete),
        ]
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
        taken_at: crate::row::timestamp_of(row, 5, "a snapshot's time taken")?,
    })
}
