//! Checkpoints on PostgreSQL: the last position per named consumer (table
//! `checkpoints`), never moved back but by a reset.

use eventsource::StoreError;
use sqlx::{PgConnection, PgPool, Row};

use crate::error::{store_error, to_i64};
use crate::schema::Identifier;
use crate::sql::Sql;

const LOAD: &str = "SELECT position FROM {schema}.checkpoints WHERE name = $1";

const SAVE: &str = "\
INSERT INTO {schema}.checkpoints AS kept (name, position) VALUES ($1, $2)
ON CONFLICT (name, tenant_id) DO UPDATE SET
    position = GREATEST(kept.position, EXCLUDED.position), updated_at = now()";

const RESET: &str = "DELETE FROM {schema}.checkpoints WHERE name = $1";

/// The checkpoints of one store.
#[derive(Debug)]
pub(crate) struct Checkpoints {
    pool: PgPool,
    load: Sql,
    save: Sql,
    reset: Sql,
}

impl Checkpoints {
    pub(crate) fn new(pool: PgPool, schema: &Identifier) -> Self {
        Self {
            pool,
            load: Sql::new(LOAD, schema),
            save: Sql::new(SAVE, schema),
            reset: Sql::new(RESET, schema),
        }
    }

    pub(crate) async fn load(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let row = sqlx::query(self.load.get())
            .bind(name)
            .fetch_optional(&self.pool)
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

    /// Saves `position` for `name` in the transaction of `conn`, never
    /// moving it backwards.
    pub(crate) async fn save_in(
        &self,
        conn: &mut PgConnection,
        name: &str,
        position: u64,
    ) -> Result<(), StoreError> {
        sqlx::query(self.save.get())
            .bind(name)
            .bind(to_i64("checkpoint position", position)?)
            .execute(conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Forgets the checkpoint of `name` in the transaction of `conn`.
    pub(crate) async fn reset_in(
        &self,
        conn: &mut PgConnection,
        name: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(self.reset.get())
            .bind(name)
            .execute(conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    pub(crate) async fn save(&self, name: &str, position: u64) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        self.save_in(&mut conn, name, position).await
    }

    pub(crate) async fn reset(&self, name: &str) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        self.reset_in(&mut conn, name).await
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("load_checkpoint", &self.load),
            ("save_checkpoint", &self.save),
            ("reset_checkpoint", &self.reset),
        ]
    }
}
