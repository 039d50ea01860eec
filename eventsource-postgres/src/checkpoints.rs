//! `CheckpointStore` for [`PgEventStore`].

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::store::CheckpointStore;
use sqlx::{PgConnection, Row};

use crate::PgEventStore;
use crate::error::{store_error, to_i64};

impl PgEventStore {
    /// Saves a checkpoint inside the caller's transaction, so a projection
    /// can commit its read-model change and its position together (no event
    /// applied twice after a crash). Like [`CheckpointStore::save`], it never
    /// moves a checkpoint backwards.
    pub async fn save_checkpoint_in(
        &self,
        conn: &mut PgConnection,
        name: &str,
        position: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(self.inner.sql.save_checkpoint.get())
            .bind(name)
            .bind(to_i64("checkpoint position", position)?)
            .execute(conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

impl PgEventStore {
    /// Forgets a checkpoint inside the caller's transaction (a rebuild
    /// resetting its read model and its position together).
    pub async fn reset_checkpoint_in(
        &self,
        conn: &mut PgConnection,
        name: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(self.inner.sql.reset_checkpoint.get())
            .bind(name)
            .execute(conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl CheckpointStore for PgEventStore {
    async fn load(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query(self.inner.sql.load_checkpoint.get())
            .bind(name)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(store_error)?;
        row.map(|row| {
            let position: i64 = row.try_get(0).map_err(store_error)?;
            u64::try_from(position).map_err(|_| {
                StoreError::Backend(
                    format!("checkpoint `{name}` holds a negative position ({position})").into(),
                )
            })
        })
        .transpose()
    }

    async fn save(&self, name: &str, position: u64) -> Result<(), StoreError> {
        let mut conn = self.inner.pool.acquire().await.map_err(store_error)?;
        self.save_checkpoint_in(&mut conn, name, position).await
    }

    async fn reset(&self, name: &str) -> Result<(), StoreError> {
        let mut conn = self.inner.pool.acquire().await.map_err(store_error)?;
        self.reset_checkpoint_in(&mut conn, name).await
    }
}
