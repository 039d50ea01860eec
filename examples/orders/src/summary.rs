//! The order-summary read model: one row per order with its status and total.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use eventsource::prelude::*;

use crate::order::{
    LineAdded, OrderApproved, OrderCancelled, OrderPlaced, OrderShipped, OrderSubmitted,
};

/// One order as the summary shows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

    fn update(&self, order_id: &str, change: impl FnOnce(&mut OrderSummary)) {
        let mut rows = self.rows.write().unwrap_or_else(PoisonError::into_inner);
        change(rows.entry(order_id.to_owned()).or_default());
    }
}

#[projection(name = "orders.summary.memory")]
impl InMemorySummaries {
    fn on_placed(&mut self, e: &OrderPlaced) {
        self.update(&e.order_id, |row| {
            row.order_id = e.order_id.clone();
            row.customer = e.customer.clone();
            row.status = "open".into();
        });
    }

    fn on_line_added(&mut self, e: &LineAdded) {
        self.update(&e.order_id, |row| {
            row.lines += 1;
            row.total += i64::from(e.line.quantity) * e.line.unit_price;
        });
    }

    fn on_submitted(&mut self, e: &OrderSubmitted) {
        self.update(&e.order_id, |row| row.status = "submitted".into());
    }

    fn on_approved(&mut self, e: &OrderApproved) {
        self.update(&e.order_id, |row| row.status = "approved".into());
    }

    fn on_shipped(&mut self, e: &OrderShipped) {
        self.update(&e.order_id, |row| row.status = "shipped".into());
    }

    fn on_cancelled(&mut self, e: &OrderCancelled) {
        self.update(&e.order_id, |row| {
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
