//! Deleting, recreating and truncating streams (the rules are in
//! `eventsource::store::lifecycle`), each in one short transaction.
//!
//! The tombstone goes through the ordinary append inside the transaction
//! (`append_in`), so it takes its position like any event and a concurrent
//! append to the stream loses on the version key. Removed rows leave no gap
//! a reader waits on: readers wait on transactions still open below the
//! horizon, never on missing positions.

use std::sync::Arc;

use eventsource::clock::Clock;
use eventsource::store::{
    DeleteMode, Deletion, ExpectedVersion, StoreError, StreamDeleted, TOMBSTONE, Truncation,
};
use sqlx::{PgConnection, PgPool, Row};

use crate::append::Appends;
use crate::error::{store_error, to_i64};
use crate::notify::Notifications;
use crate::schema::Identifier;
use crate::sql::Sql;

/// The last event of stream `$1`, locked against a concurrent delete.
const LAST_EVENT: &str = "\
SELECT stream_version, aggregate_type, event_name, global_position
FROM {schema}.events WHERE stream_id = $1
ORDER BY stream_version DESC LIMIT 1 FOR UPDATE";

/// Removes the events of stream `$1` before version `$2`.
const REMOVE_BEFORE: &str =
    "DELETE FROM {schema}.events WHERE stream_id = $1 AND stream_version < $2";

/// Removes the archived events of stream `$1` before version `$2` (a hard
/// delete, a recreate or a truncation reaches the archive too).
const REMOVE_ARCHIVED_BEFORE: &str =
    "DELETE FROM {schema}.events_archive WHERE stream_id = $1 AND stream_version < $2";

/// Forgets the snapshot of stream `$1` (a hard delete keeps nothing).
const FORGET_SNAPSHOT: &str = "DELETE FROM {schema}.snapshots WHERE stream_id = $1";

/// The statements of one store.
#[derive(Debug)]
pub(crate) struct Statements {
    last_event: Sql,
    remove_before: Sql,
    remove_archived_before: Sql,
    forget_snapshot: Sql,
}

impl Statements {
    pub(crate) fn new(schema: &Identifier) -> Self {
        Self {
            last_event: Sql::new(LAST_EVENT, schema),
            remove_before: Sql::new(REMOVE_BEFORE, schema),
            remove_archived_before: Sql::new(REMOVE_ARCHIVED_BEFORE, schema),
            forget_snapshot: Sql::new(FORGET_SNAPSHOT, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn all(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("last_event", &self.last_event),
            ("remove_before", &self.remove_before),
            ("remove_archived_before", &self.remove_archived_before),
            ("forget_snapshot", &self.forget_snapshot),
        ]
    }
}

/// The last event of a stream, as the lifecycle needs it.
struct Last {
    version: u64,
    aggregate_type: String,
    deleted: bool,
    position: u64,
}

/// The lifecycle operations of one store (and its clones).
#[derive(Debug)]
pub(crate) struct Lifecycle {
    pool: PgPool,
    statements: Statements,
    appends: Arc<Appends>,
    notifications: Arc<Notifications>,
    clock: Clock,
}

impl Lifecycle {
    pub(crate) fn new(
        pool: PgPool,
        schema: &Identifier,
        appends: Arc<Appends>,
        notifications: Arc<Notifications>,
        clock: Clock,
    ) -> Self {
        Self {
            pool,
            statements: Statements::new(schema),
            appends,
            notifications,
            clock,
        }
    }

    #[cfg(test)]
    pub(crate) fn statements(&self) -> &Statements {
        &self.statements
    }

    async fn last(&self, conn: &mut PgConnection, stream_id: &str) -> Result<Last, StoreError> {
        let row = sqlx::query(self.statements.last_event.get())
            .bind(stream_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(store_error)?
            .ok_or_else(|| StoreError::StreamNotFound {
                stream_id: stream_id.into(),
            })?;
        let unsigned = |i: usize| -> Result<u64, StoreError> {
            let value: i64 = row.try_get(i).map_err(store_error)?;
            u64::try_from(value).map_err(|_| {
                StoreError::Backend(format!("negative value {value} in column {i}").into())
            })
        };
        let name: String = row.try_get(2).map_err(store_error)?;
        Ok(Last {
            version: unsigned(0)?,
            aggregate_type: row.try_get(1).map_err(store_error)?,
            deleted: name == TOMBSTONE,
            position: unsigned(3)?,
        })
    }

    async fn remove_before(
        &self,
        conn: &mut PgConnection,
        stream_id: &str,
        version: u64,
    ) -> Result<u64, StoreError> {
        let version = to_i64("version", version)?;
        let hot = sqlx::query(self.statements.remove_before.get())
            .bind(stream_id)
            .bind(version)
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        let archived = sqlx::query(self.statements.remove_archived_before.get())
            .bind(stream_id)
            .bind(version)
            .execute(&mut *conn)
            .await
            .map_err(store_error)?;
        Ok(hot.rows_affected() + archived.rows_affected())
    }

    pub(crate) async fn delete_stream(
        &self,
        stream_id: &str,
        mode: DeleteMode,
    ) -> Result<Deletion, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let last = self.last(&mut tx, stream_id).await?;
        let (tombstone_version, tombstone_position) = if last.deleted {
            if mode == DeleteMode::Soft {
                return Err(StoreError::StreamDeleted {
                    stream_id: stream_id.into(),
                });
            }
            (last.version, last.position)
        } else {
            let tombstone = StreamDeleted {
                stream_id: stream_id.to_owned(),
                aggregate_type: last.aggregate_type.clone(),
                mode,
                last_version: last.version,
            }
            .to_new_event(self.clock.uuid_v7())?;
            let appended = self
                .appends
                .append_in(
                    &mut tx,
                    stream_id,
                    &last.aggregate_type,
                    ExpectedVersion::Exact(last.version),
                    &[tombstone],
                )
                .await?;
            (appended.last_version, appended.last_position)
        };
        let removed = match mode {
            DeleteMode::Soft => 0,
            DeleteMode::Hard => {
                let removed = self
                    .remove_before(&mut tx, stream_id, tombstone_version)
                    .await?;
                if last.deleted && removed == 0 {
                    return Err(StoreError::StreamDeleted {
                        stream_id: stream_id.into(),
                    });
                }
                sqlx::query(self.statements.forget_snapshot.get())
                    .bind(stream_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(store_error)?;
                removed
            }
        };
        tx.commit().await.map_err(store_error)?;
        if !last.deleted {
            self.notifications.committed(&self.pool);
        }
        Ok(Deletion {
            mode,
            tombstone_version,
            tombstone_position,
            removed,
        })
    }

    pub(crate) async fn recreate_stream(&self, stream_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let last = self.last(&mut tx, stream_id).await?;
        if !last.deleted {
            return Err(StoreError::StreamNotDeleted {
                stream_id: stream_id.into(),
            });
        }
        let removed = self
            .remove_before(&mut tx, stream_id, u64::MAX >> 1)
            .await?;
        sqlx::query(self.statements.forget_snapshot.get())
            .bind(stream_id)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(removed)
    }

    pub(crate) async fn truncate_before(
        &self,
        stream_id: &str,
        before_version: u64,
    ) -> Result<Truncation, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let last = self.last(&mut tx, stream_id).await?;
        if last.deleted {
            return Err(StoreError::StreamDeleted {
                stream_id: stream_id.into(),
            });
        }
        if before_version > last.version {
            return Err(StoreError::TruncateBeyondHead {
                stream_id: stream_id.into(),
                before: before_version,
                head: last.version,
            });
        }
        let removed = self
            .remove_before(&mut tx, stream_id, before_version)
            .await?;
        tx.commit().await.map_err(store_error)?;
        Ok(Truncation {
            first_kept_version: before_version.max(1),
            removed,
        })
    }
}
