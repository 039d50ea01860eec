//! Saga instances on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use eventsource::StoreError;
use eventsource::saga::{SagaInstance, SagaStore};
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
ON CONFLICT (saga, correlation_id) DO UPDATE
SET state = EXCLUDED.state, completed = EXCLUDED.completed,
    updated_at = EXCLUDED.updated_at
WHERE NOT i.completed";

const LIST: &str = "\
SELECT correlation_id, state::text, completed, updated_at
FROM {schema}.saga_instances WHERE saga = $1 ORDER BY updated_at, correlation_id";

/// The statements of the saga store.
#[derive(Debug)]
pub(crate) struct Statements {
    load: Sql,
    save: Sql,
    list: Sql,
}

impl Statements {
    pub(crate) fn new(schema: &Identifier) -> Self {
        Self {
            load: Sql::new(LOAD, schema),
            save: Sql::new(SAVE, schema),
            list: Sql::new(LIST, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn all(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("load_saga", &self.load),
            ("save_saga", &self.save),
            ("list_sagas", &self.list),
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
                updated_at: row.try_get::<DateTime<Utc>, _>(2).map_err(store_error)?,
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
                        updated_at: row.try_get::<DateTime<Utc>, _>(3).map_err(store_error)?,
                    },
                ))
            })
            .collect()
    }
}
