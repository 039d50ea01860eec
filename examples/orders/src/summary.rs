//! The order-summary read model: one row per order with its status and total.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use eventsource::prelude::*;
use eventsource_postgres::{PgEventStore, PgReadModel, ReadModelStep};
use serde::Serialize;
use sqlx::PgConnection;

use crate::order::{
    LineAdded, OrderApproved, OrderCancelled, OrderPlaced, OrderShipped, OrderSubmitted,
};

/// One order as the summary shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrderSummary {
    /// The order.
    pub order_id: String,
    /// The customer.
    pub customer: String,
    /// How many lines.
    pub lines: u32,
    /// The total in cents.
    pub total: i64,
    /// `open`, `submitted`, `approved`, `shipped` or `cancelled`.
    pub status: String,
    /// Why it was cancelled, if it was.
    pub cancel_reason: Option<String>,
    /// The order's stream version this row reflects (its `ETag`).
    pub version: u64,
}

/// The summary held in memory (used when no `DATABASE_URL` is set).
#[derive(Clone, Debug, Default)]
pub struct InMemorySummaries {
    rows: Arc<RwLock<BTreeMap<String, OrderSummary>>>,
}

impl InMemorySummaries {
    /// The summary of `order_id`.
    pub fn get(&self, order_id: &str) -> Option<OrderSummary> {
        let rows = self.rows.read().unwrap_or_else(PoisonError::into_inner);
        rows.get(order_id).cloned()
    }

    /// Changes the row of `order_id` by the event `meta` carries; an event
    /// delivered again (at-least-once) is skipped by its version.
    fn update(&self, order_id: &str, meta: &RecordedEvent, change: impl FnOnce(&mut OrderSummary)) {
        let mut rows = self.rows.write().unwrap_or_else(PoisonError::into_inner);
        let row = rows.entry(order_id.to_owned()).or_default();
        if meta.stream_version > row.version {
            change(row);
            row.version = meta.stream_version;
        }
    }
}

#[projection(name = "orders.summary.memory")]
impl InMemorySummaries {
    fn on_placed(&mut self, e: &OrderPlaced, meta: &RecordedEvent) {
        self.update(&e.order_id, meta, |row| {
            row.order_id = e.order_id.clone();
            row.customer = e.customer.clone();
            row.status = "open".into();
        });
    }

    fn on_line_added(&mut self, e: &LineAdded, meta: &RecordedEvent) {
        self.update(&e.order_id, meta, |row| {
            row.lines += 1;
            row.total += i64::from(e.line.quantity) * e.line.unit_price;
        });
    }

    fn on_submitted(&mut self, e: &OrderSubmitted, meta: &RecordedEvent) {
        self.update(&e.order_id, meta, |row| row.status = "submitted".into());
    }

    fn on_approved(&mut self, e: &OrderApproved, meta: &RecordedEvent) {
        self.update(&e.order_id, meta, |row| row.status = "approved".into());
    }

    fn on_shipped(&mut self, e: &OrderShipped, meta: &RecordedEvent) {
        self.update(&e.order_id, meta, |row| row.status = "shipped".into());
    }

    fn on_cancelled(&mut self, e: &OrderCancelled, meta: &RecordedEvent) {
        self.update(&e.order_id, meta, |row| {
            row.status = "cancelled".into();
            row.cancel_reason = Some(e.reason.clone());
        });
    }

    #[reset]
    fn clear(&mut self) {
        self.rows
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// A row of `order_summaries`, as selected.
type SummaryRow = (String, String, i32, i64, String, Option<String>, i64);

/// The summary in PostgreSQL: table `order_summaries` in the event store's
/// schema, written inside each batch's transaction, so the rows and the
/// projection's checkpoint always agree.
#[derive(Clone, Debug)]
pub struct PgSummaries {
    model: PgReadModel,
}

/// The read model's migration, a step per projection version that changed
/// its tables. Step 1 is idempotent because schemas made before the read
/// model recorded its steps already have the table.
const STEPS: &[ReadModelStep] = &[ReadModelStep::new(
    1,
    "CREATE TABLE IF NOT EXISTS {schema}.order_summaries ( \
         order_id text PRIMARY KEY, \
         customer text NOT NULL DEFAULT '', \
         lines integer NOT NULL DEFAULT 0, \
         total bigint NOT NULL DEFAULT 0, \
         status text NOT NULL DEFAULT 'open', \
         cancel_reason text); \
     ALTER TABLE {schema}.order_summaries ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0",
)];

impl PgSummaries {
    /// Brings the table to the projection's version (the read model's own
    /// migration, run once per step whichever process starts first).
    pub async fn create(store: &PgEventStore) -> Result<Self, eventsource::StoreError> {
        let model = PgReadModel::of::<Self>(store);
        model.migrate(STEPS).await?;
        Ok(Self { model })
    }

    /// The summary of `order_id`.
    pub async fn get(
        &self,
        pool: &sqlx::PgPool,
        order_id: &str,
    ) -> Result<Option<OrderSummary>, sqlx::Error> {
        let row: Option<SummaryRow> = sqlx::query_as(self.model.sql(
            "SELECT order_id, customer, lines, total, status, cancel_reason, version \
                 FROM {schema}.order_summaries WHERE order_id = $1",
        ))
        .bind(order_id)
        .fetch_optional(pool)
        .await?;
        Ok(row.map(
            |(order_id, customer, lines, total, status, cancel_reason, version)| OrderSummary {
                order_id,
                customer,
                lines: u32::try_from(lines).unwrap_or(0),
                total,
                status,
                cancel_reason,
                version: u64::try_from(version).unwrap_or(0),
            },
        ))
    }

    async fn set_status(
        &self,
        ctx: &mut PgConnection,
        meta: &RecordedEvent,
        order_id: &str,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(self.model.sql(
            "UPDATE {schema}.order_summaries SET status = $2, cancel_reason = coalesce($3, cancel_reason), version = $4 \
             WHERE order_id = $1",
        ))
        .bind(order_id)
        .bind(status)
        .bind(reason)
        .bind(version(meta))
        .execute(ctx)
        .await?;
        Ok(())
    }
}

#[projection(name = "orders.summary.postgres")]
impl PgSummaries {
    async fn on_placed(
        &mut self,
        e: &OrderPlaced,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(self.model.sql(
            "INSERT INTO {schema}.order_summaries (order_id, customer, version) VALUES ($1, $2, $3) \
             ON CONFLICT (order_id) DO NOTHING",
        ))
        .bind(&e.order_id)
        .bind(&e.customer)
        .bind(version(meta))
        .execute(ctx)
        .await?;
        Ok(())
    }

    async fn on_line_added(
        &mut self,
        e: &LineAdded,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(self.model.sql(
            "UPDATE {schema}.order_summaries SET lines = lines + 1, total = total + $2, version = $3 WHERE order_id = $1",
        ))
        .bind(&e.order_id)
        .bind(i64::from(e.line.quantity) * e.line.unit_price)
        .bind(version(meta))
        .execute(ctx)
        .await?;
        Ok(())
    }

    async fn on_submitted(
        &mut self,
        e: &OrderSubmitted,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        self.set_status(ctx, meta, &e.order_id, "submitted", None)
            .await
    }

    async fn on_approved(
        &mut self,
        e: &OrderApproved,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        self.set_status(ctx, meta, &e.order_id, "approved", None)
            .await
    }

    async fn on_shipped(
        &mut self,
        e: &OrderShipped,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        self.set_status(ctx, meta, &e.order_id, "shipped", None)
            .await
    }

    async fn on_cancelled(
        &mut self,
        e: &OrderCancelled,
        meta: &RecordedEvent,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        self.set_status(ctx, meta, &e.order_id, "cancelled", Some(&e.reason))
            .await
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::raw_sql(self.model.sql("TRUNCATE {schema}.order_summaries"))
            .execute(ctx)
            .await?;
        Ok(())
    }
}

/// A stream version as the table stores it.
fn version(meta: &RecordedEvent) -> i64 {
    i64::try_from(meta.stream_version).unwrap_or(i64::MAX)
}
