//! The warehouse's stock: restocked, reserved for orders, released.

use std::collections::BTreeMap;

use eventsource::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::order::Line;

/// Stock arrived.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.Restocked")]
pub struct Restocked {
    /// The product.
    pub sku: String,
    /// How many arrived.
    pub quantity: u32,
}

/// Stock was set aside for an order.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.InventoryReserved")]
pub struct InventoryReserved {
    /// The order.
    pub order_id: String,
    /// What was set aside.
    pub lines: Vec<Line>,
}

/// A reservation was given back.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.InventoryReleased")]
pub struct InventoryReleased {
    /// The order.
    pub order_id: String,
    /// What came back.
    pub lines: Vec<Line>,
}

/// Adds stock (creates the warehouse on first use).
#[derive(Command, Debug, Clone)]
#[command(aggregate = Warehouse)]
pub struct Restock {
    /// The warehouse.
    #[aggregate_id]
    pub warehouse: String,
    /// The product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
}

/// Sets stock aside for an order.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Warehouse)]
pub struct ReserveInventory {
    /// The warehouse.
    #[aggregate_id]
    pub warehouse: String,
    /// The order.
    pub order_id: String,
    /// What it needs.
    pub lines: Vec<Line>,
}

/// Gives an order's reservation back.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Warehouse)]
pub struct ReleaseInventory {
    /// The warehouse.
    #[aggregate_id]
    pub warehouse: String,
    /// The order.
    pub order_id: String,
}

/// Why the warehouse refuses a reservation.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// Not enough stock.
    #[error("only {available} of {sku} in stock, {wanted} wanted")]
    OutOfStock {
        /// The product.
        sku: String,
        /// What is left.
        available: u32,
        /// What was asked.
        wanted: u32,
    },
}

/// A warehouse.
#[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "orders.Warehouse", snapshot_every = 100)]
pub struct Warehouse {
    /// Free stock per product.
    pub available: BTreeMap<String, u32>,
    /// Reservations per order.
    pub reserved: BTreeMap<String, Vec<Line>>,
}

#[aggregate_impl]
impl Warehouse {
    #[command_handler(create_if_missing)]
    fn restock(&self, cmd: &Restock) -> Restocked {
        Restocked {
            sku: cmd.sku.clone(),
            quantity: cmd.quantity,
        }
    }

    #[command_handler]
    fn reserve(&self, cmd: &ReserveInventory) -> Result<Option<InventoryReserved>, InventoryError> {
        if self.reserved.contains_key(&cmd.order_id) {
            return Ok(None);
        }
        let mut wanted: BTreeMap<&str, u32> = BTreeMap::new();
        for line in &cmd.lines {
            *wanted.entry(&line.sku).or_default() += line.quantity;
        }
        for (sku, quantity) in wanted {
            let available = self.available.get(sku).copied().unwrap_or(0);
            if available < quantity {
                return Err(InventoryError::OutOfStock {
                    sku: sku.to_owned(),
                    available,
                    wanted: quantity,
                });
            }
        }
        Ok(Some(InventoryReserved {
            order_id: cmd.order_id.clone(),
            lines: cmd.lines.clone(),
        }))
    }

    #[command_handler]
    fn release(&self, cmd: &ReleaseInventory) -> Option<InventoryReleased> {
        self.reserved
            .get(&cmd.order_id)
            .map(|lines| InventoryReleased {
                order_id: cmd.order_id.clone(),
                lines: lines.clone(),
            })
    }

    #[event_sourcing_handler]
    fn on_restocked(&mut self, e: &Restocked) {
        *self.available.entry(e.sku.clone()).or_default() += e.quantity;
    }

    #[event_sourcing_handler]
    fn on_reserved(&mut self, e: &InventoryReserved) {
        for line in &e.lines {
            if let Some(stock) = self.available.get_mut(&line.sku) {
                *stock = stock.saturating_sub(line.quantity);
            }
        }
        self.reserved.insert(e.order_id.clone(), e.lines.clone());
    }

    #[event_sourcing_handler]
    fn on_released(&mut self, e: &InventoryReleased) {
        for line in &e.lines {
            *self.available.entry(line.sku.clone()).or_default() += line.quantity;
        }
        self.reserved.remove(&e.order_id);
    }
}
