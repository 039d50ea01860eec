//! Saga instances on PostgreSQL.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use eventsource::StoreError;
use eventsource::saga::{SagaInstance, SagaStore};
use sqlx::Row;
use uuid::Uuid;

use crate::PgEventStore;
use crate::error::store_error;
use crate::processing_sql::ProcessingSql;

/// A [`SagaStore`] in the store's schema (table `saga_instances`).
#[derive(Clone, Debug)]
pub struct PgSagaStore {
    store: PgEventStore,
    sql: Arc<ProcessingSql>,
}

impl PgEventStore {
    /// The saga store of this store's schema.
    pub fn saga_store(&self) -> PgSagaStore {
        PgSagaStore {
            store: self.clone(),
            sql: self.inner.processing.clone(),
        }
    }
}

#[async_trait]
impl SagaStore for PgSagaStore {
    async fn load(
        &self,
        saga: &str,
        correlation_id: Uuid,
    ) -> Result<Option<SagaInstance>, StoreError> {
        let row = sqlx::query(self.sql.load_saga.get())
            .bind(saga)
            .bind(correlation_id)
            .fetch_optional(self.store.pool())
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
        sqlx::query(self.sql.save_saga.get())
            .bind(saga)
            .bind(correlation_id)
            .bind(&instance.state)
            .bind(instance.completed)
            .bind(instance.updated_at)
            .execute(self.store.pool())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn list(&self, saga: &str) -> Result<Vec<(Uuid, SagaInstance)>, StoreError> {
        let rows = sqlx::query(self.sql.list_sagas.get())
            .bind(saga)
            .fetch_all(self.store.pool())
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
