//! What the writers append and the projection under test keeps.

use std::time::Duration;

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection};

/// The aggregate type of every stream the writers append to.
pub(crate) const AGGREGATE_TYPE: &str = "faults.Account";

/// The projection's name, shared by every instance and process.
pub(crate) const PROJECTION: &str = "faults.read_model";

/// The partitioned projection's name.
pub(crate) const PARTITIONED: &str = "faults.partitioned";

/// How many partitions it has.
pub(crate) const PARTITIONS: u32 = 6;

/// The one event the writers append; `writer` and `seq` identify it
/// logically, so a second copy under another event id shows as a duplicate.
#[derive(Event, Serialize, Deserialize, Clone, Debug)]
#[event(name = "faults.Deposited")]
pub(crate) struct Deposited {
    pub(crate) writer: u32,
    pub(crate) seq: u64,
    pub(crate) amount: i64,
}

/// A read model in PostgreSQL with one row per application of an event. It
/// has no unique key on purpose: an event applied twice shows as two rows.
pub(crate) struct ReadModel {
    /// The schema of the store and of the read model's table.
    pub(crate) schema: String,
    /// Who applied the row (a process's name), for the report.
    pub(crate) owner: String,
    /// How long each handler holds its transaction after writing (a slow
    /// handler, so that a frozen process is frozen mid-transaction).
    pub(crate) slow: Duration,
}

#[projection(name = "faults.read_model")]
impl ReadModel {
    async fn on_deposited(
        &mut self,
        _e: &Deposited,
        record: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), ProjectionError> {
        let statement = format!(
            "INSERT INTO \"{}\".read_model (position, event_id, stream_id, stream_version, owner) \
             VALUES ($1, $2, $3, $4, $5)",
            self.schema
        );
        sqlx::query(AssertSqlSafe(statement))
            .bind(position_i64(record.global_position))
            .bind(record.event_id)
            .bind(&*record.stream_id)
            .bind(position_i64(record.stream_version))
            .bind(&self.owner)
            .execute(&mut *ctx)
            .await
            .map_err(ProjectionError::handler)?;
        if !self.slow.is_zero() {
            tokio::time::sleep(self.slow).await;
        }
        Ok(())
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let statement = format!("TRUNCATE \"{}\".read_model", self.schema);
        sqlx::query(AssertSqlSafe(statement)).execute(ctx).await?;
        Ok(())
    }
}

/// The same read model, in [`PARTITIONS`] partitions shared by the
/// processes running it.
pub(crate) struct PartitionedModel(pub(crate) ReadModel);

#[projection(name = "faults.partitioned", partitions = 6)]
impl PartitionedModel {
    async fn on_deposited(
        &mut self,
        e: &Deposited,
        record: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), ProjectionError> {
        self.0.on_deposited(e, record, ctx).await
    }
}

/// Creates the read model's table in `schema` (the store's, migrated).
pub(crate) async fn create_read_model(pool: &sqlx::PgPool, schema: &str) -> anyhow::Result<()> {
    let statement = format!(
        "CREATE TABLE IF NOT EXISTS \"{schema}\".read_model (\
             position bigint NOT NULL, event_id uuid NOT NULL, stream_id text NOT NULL, \
             stream_version bigint NOT NULL, owner text NOT NULL)"
    );
    sqlx::query(AssertSqlSafe(statement)).execute(pool).await?;
    Ok(())
}

/// Positions and versions fit `bigint`: the stores never hand out more.
pub(crate) fn position_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
