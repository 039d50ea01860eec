//! Schema migrations of a store that has them, as operations see them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::StoreError;

/// One migration and whether it is applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MigrationState {
    /// Its number.
    pub version: i32,
    /// Its name.
    pub name: String,
    /// When it was applied (`None`: pending).
    pub applied_at: Option<DateTime<Utc>>,
}

/// A store whose schema is migrated (PostgreSQL).
#[async_trait]
pub trait Migrations: Send + Sync + 'static {
    /// Every migration the program ships, with whether it is applied.
    async fn migration_status(&self) -> Result<Vec<MigrationState>, StoreError>;

    /// The SQL the pending migrations would run, as it would run.
    async fn pending_sql(&self) -> Result<String, StoreError>;

    /// Applies the pending migrations; returns the versions applied.
    async fn apply_migrations(&self) -> Result<Vec<i32>, StoreError>;
}
