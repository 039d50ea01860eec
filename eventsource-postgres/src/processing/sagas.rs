//! Saga instances on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use eventsource::StoreError;
use eventsource::saga::{Deadline, DeadlineStore, SagaInstance, SagaStore};
use sqlx::{PgPool, Row};
use uuid::Uuid;

use crate::error::store_error;
use crate::schema::Identifier;
use crate::sql::Sql;

const LOAD: &str = "\
SELECT state::text, completed, updated_at FROM {schema}.saga_instances
WHERE saga = $1 AND correlation_id = $2";

const SAVE: &str = "\
INSERT INTO {schema}.saga_instances AS i (saga, correlation_id, state, completed, updated_at)
VALUES ($1, $2, $3::jsonb, $4, $5)
ON CONFLICT (saga, correlation_id, tenant_id) DO UPDATE
SET state = EXCLUDED.state, completed = EXCLUDED.completed,
    updated_at = EXCLUDED.updated_at
WHERE NOT i.completed";

const LIST: &str = "\
SELECT correlation_id, state::text, completed, updated_at
FROM {schema}.saga_instances WHERE saga = $1 ORDER BY updated_at, correlation_id";

/// Stores deadline `$1`, replacing the one of the same instance and name.
const SCHEDULE: &str = "\
INSERT INTO {schema}.saga_deadlines (id, saga, correlation_id, name, due_at, payload)
VALUES ($1, $2, $3, $4, $5, $6::jsonb)
ON CONFLICT (saga, correlation_id, name, tenant_id) DO UPDATE
SET id = EXCLUDED.id, due_at = EXCLUDED.due_at, payload = EXCLUDED.payload,
    claimed_by = NULL, claimed_until = NULL";

const CANCEL: &str = "\
DELETE FROM {schema}.saga_deadlines WHERE saga = $1 AND correlation_id = $2 AND name = $3";

/// Claims up to `$4` deadlines due at `$1` for owner `$2` until `$3`;
/// rows another claimer is locking are skipped, not waited for.
const CLAIM: &str = "\
UPDATE {schema}.saga_deadlines SET claimed_by = $2, claimed_until = $3
WHERE id IN (
    SELECT id FROM {schema}.saga_deadlines
    WHERE due_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1)
    ORDER BY due_at, id LIMIT $4
    FOR UPDATE SKIP LOCKED)
RETURNING id, saga, correlation_id, name, due_at, payload::text";

const FIRED: &str = "DELETE FROM {schema}.saga_deadlines WHERE id = $1";

const PENDING: &str = "\
SELECT id, saga, correlation_id, name, due_at, payload::text
FROM {schema}.saga_deadlines WHERE saga = $1 ORDER BY due_at, id";

/// The statements of the saga store.
#[derive(Debug)]
pub(crate) struct Statements {
    load: Sql,
    save: Sql,
    list: Sql,
    schedule: Sql,
    cancel: Sql,
    claim: Sql,
    fired: Sql,
    pending: Sql,
}

impl Statements {
    pub(crate) fn new(schema: &Identifier) -> Self {
        Self {
            load: Sql::new(LOAD, schema),
            save: Sql::new(SAVE, schema),
            list: Sql::new(LIST, schema),
            schedule: Sql::new(SCHEDULE, schema),
            cancel: Sql::new(CANCEL, schema),
            claim: Sql::new(CLAIM, schema),
            fired: Sql::new(FIRED, schema),
            pending: Sql::new(PENDING, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn all(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("load_saga", &self.load),
            ("save_saga", &self.save),
            ("list_sagas", &self.list),
            ("schedule_deadline", &self.schedule),
            ("cancel_deadline", &self.cancel),
            ("claim_deadlines", &self.claim),
            ("deadline_fired", &self.fired),
            ("pending_deadlines", &self.pending),
        ]
    }
}

/// A [`SagaStore`] in the store's schema (table `saga_instances`).
#[derive(Clone, Debug)]
pub struct PgSagaStore {
    pool: PgPool,
    sql: Arc<Statements>,
}

impl PgSagaStore {
    pub(crate) fn new(pool: PgPool, sql: Arc<Statements>) -> Self {
        Self { pool, sql }
    }
}

#[async_trait]
impl SagaStore for PgSagaStore {
    async fn load(
        &self,
        saga: &str,
        correlation_id: Uuid,
    ) -> Result<Option<SagaInstance>, StoreError> {
        let row = sqlx::query(self.sql.load.get())
            .bind(saga)
            .bind(correlation_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| {
            Ok(SagaInstance {
                state: row.try_get(0).map_err(store_error)?,
                completed: row.try_get(1).map_err(store_error)?,
                updated_at: crate::row::timestamp_of(&row, 2, "a saga's time updated")?,
            })
        })
        .transpose()
    }

    async fn save(
        &self,
        saga: &str,
        correlation_id: Uuid,
        instance: SagaInstance,
    ) -> Result<(), StoreError> {
        sqlx::query(self.sql.save.get())
            .bind(saga)
            .bind(correlation_id)
            .bind(&instance.state)
            .bind(instance.completed)
            .bind(instance.updated_at)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn list(&self, saga: &str) -> Result<Vec<(Uuid, SagaInstance)>, StoreError> {
        let rows = sqlx::query(self.sql.list.get())
            .bind(saga)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get::<Uuid, _>(0).map_err(store_error)?,
                    SagaInstance {
                        state: row.try_get(1).map_err(store_error)?,
                        completed: row.try_get(2).map_err(store_error)?,
                        updated_at: crate::row::timestamp_of(row, 3, "a saga's time updated")?,
                    },
                ))
            })
            .collect()
    }
}

fn deadline(row: &sqlx::postgres::PgRow) -> Result<Deadline, StoreError> {
    Ok(Deadline {
        id: row.try_get(0).map_err(store_error)?,
        saga: row.try_get(1).map_err(store_error)?,
        correlation_id: row.try_get(2).map_err(store_error)?,
        name: row.try_get(3).map_err(store_error)?,
        due_at: crate::row::timestamp_of(row, 4, "a deadline's due time")?,
        payload: row.try_get(5).map_err(store_error)?,
    })
}

#[async_trait]
impl DeadlineStore for PgSagaStore {
    async fn schedule(&self, deadline: Deadline) -> Result<(), StoreError> {
        sqlx::query(self.sql.schedule.get())
            .bind(deadline.id)
            .bind(&deadline.saga)
            .bind(deadline.correlation_id)
            .bind(&deadline.name)
            .bind(deadline.due_at)
            .bind(&deadline.payload)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn cancel(
        &self,
        saga: &str,
        correlation_id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql.cancel.get())
            .bind(saga)
            .bind(correlation_id)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected() > 0)
    }

    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        owner: Uuid,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deadline>, StoreError> {
        let rows = sqlx::query(self.sql.claim.get())
            .bind(now)
            .bind(owner)
            .bind(until)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        let mut due: Vec<Deadline> = rows.iter().map(deadline).collect::<Result<_, _>>()?;
        due.sort_by_key(|d| (d.due_at, d.id));
        Ok(due)
    }

    async fn fired(&self, id: Uuid) -> Result<(), StoreError> {
        sqlx::query(self.sql.fired.get())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn pending(&self, saga: &str) -> Result<Vec<Deadline>, StoreError> {
        let rows = sqlx::query(self.sql.pending.get())
            .bind(saga)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter().map(deadline).collect()
    }
}
