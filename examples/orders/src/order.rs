//! The order aggregate: placed, filled with lines, submitted, then approved
//! and shipped, or cancelled.

use eventsource::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One line of an order.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// Unit price in cents.
    pub unit_price: i64,
}

/// An order was placed by a customer.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.OrderPlaced")]
pub struct OrderPlaced {
    /// The order.
    pub order_id: String,
    /// Who placed it.
    pub customer: String,
}

/// A line was added.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.LineAdded")]
pub struct LineAdded {
    /// The order.
    pub order_id: String,
    /// The line.
    pub line: Line,
}

/// The customer submitted the order for fulfilment.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.OrderSubmitted")]
pub struct OrderSubmitted {
    /// The order.
    pub order_id: String,
    /// Who placed it.
    pub customer: String,
    /// Its lines.
    pub lines: Vec<Line>,
    /// The total in cents.
    pub total: i64,
}

/// Inventory is reserved and payment taken: the order will be shipped.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.OrderApproved")]
pub struct OrderApproved {
    /// The order.
    pub order_id: String,
}

/// The order left the warehouse.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.OrderShipped")]
pub struct OrderShipped {
    /// The order.
    pub order_id: String,
}

/// The order was cancelled.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.OrderCancelled")]
pub struct OrderCancelled {
    /// The order.
    pub order_id: String,
    /// Why.
    pub reason: String,
}

/// Places a new order.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct PlaceOrder {
    /// The new order's id.
    #[aggregate_id]
    pub order_id: String,
    /// The customer.
    pub customer: String,
}

/// Adds a line to an open order.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct AddLine {
    /// The order.
    #[aggregate_id]
    pub order_id: String,
    /// The line.
    pub line: Line,
}

/// Submits the order for fulfilment.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct SubmitOrder {
    /// The order.
    #[aggregate_id]
    pub order_id: String,
}

/// Approves a submitted order (sent by the fulfilment saga).
#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct ApproveOrder {
    /// The order.
    #[aggregate_id]
    pub order_id: String,
}

/// Ships an approved order.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct ShipOrder {
    /// The order.
    #[aggregate_id]
    pub order_id: String,
}

/// Cancels an order that has not shipped.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Order)]
pub struct CancelOrder {
    /// The order.
    #[aggregate_id]
    pub order_id: String,
    /// Why.
    pub reason: String,
}

/// Why an order refuses a command (sent to HTTP clients as the problem's
/// `error`).
#[derive(Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OrderError {
    /// The command needs another status.
    #[error("the order is {status:?}; cannot {action}")]
    WrongStatus {
        /// The current status.
        status: Status,
        /// What was asked.
        action: &'static str,
    },
    /// A line must have a quantity.
    #[error("a line needs a positive quantity and price")]
    InvalidLine,
    /// Nothing to submit.
    #[error("an order needs at least one line")]
    Empty,
}

/// Where an order is in its life.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// Not placed yet.
    #[default]
    New,
    /// Taking lines.
    Open,
    /// Awaiting fulfilment.
    Submitted,
    /// Ready to ship.
    Approved,
    /// Gone.
    Shipped,
    /// Cancelled.
    Cancelled,
}

/// An order.
#[derive(Aggregate, Clone, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "orders.Order", snapshot_every = 50)]
pub struct Order {
    /// Its id.
    pub id: String,
    /// The customer.
    pub customer: String,
    /// Its lines.
    pub lines: Vec<Line>,
    /// Its status.
    pub status: Status,
}

impl Order {
    fn expect(&self, wanted: &[Status], action: &'static str) -> Result<(), OrderError> {
        if wanted.contains(&self.status) {
            Ok(())
        } else {
            Err(OrderError::WrongStatus {
                status: self.status,
                action,
            })
        }
    }

    /// The total in cents.
    pub fn total(&self) -> i64 {
        self.lines
            .iter()
            .map(|l| i64::from(l.quantity) * l.unit_price)
            .sum()
    }
}

#[aggregate_impl]
impl Order {
    #[command_handler(create)]
    fn place(&self, cmd: &PlaceOrder) -> OrderPlaced {
        OrderPlaced {
            order_id: cmd.order_id.clone(),
            customer: cmd.customer.clone(),
        }
    }

    #[command_handler]
    fn add_line(&self, cmd: &AddLine) -> Result<LineAdded, OrderError> {
        self.expect(&[Status::Open], "add a line")?;
        if cmd.line.quantity == 0 || cmd.line.unit_price <= 0 {
            return Err(OrderError::InvalidLine);
        }
        Ok(LineAdded {
            order_id: self.id.clone(),
            line: cmd.line.clone(),
        })
    }

    #[command_handler]
    fn submit(&self, _cmd: &SubmitOrder) -> Result<OrderSubmitted, OrderError> {
        self.expect(&[Status::Open], "submit")?;
        if self.lines.is_empty() {
            return Err(OrderError::Empty);
        }
        Ok(OrderSubmitted {
            order_id: self.id.clone(),
            customer: self.customer.clone(),
            lines: self.lines.clone(),
            total: self.total(),
        })
    }

    #[command_handler]
    fn approve(&self, _cmd: &ApproveOrder) -> Result<OrderApproved, OrderError> {
        self.expect(&[Status::Submitted], "approve")?;
        Ok(OrderApproved {
            order_id: self.id.clone(),
        })
    }

    #[command_handler]
    fn ship(&self, _cmd: &ShipOrder) -> Result<OrderShipped, OrderError> {
        self.expect(&[Status::Approved], "ship")?;
        Ok(OrderShipped {
            order_id: self.id.clone(),
        })
    }

    #[command_handler]
    fn cancel(&self, cmd: &CancelOrder) -> Result<Option<OrderCancelled>, OrderError> {
        if self.status == Status::Cancelled {
            return Ok(None);
        }
        self.expect(
            &[Status::Open, Status::Submitted, Status::Approved],
            "cancel",
        )?;
        Ok(Some(OrderCancelled {
            order_id: self.id.clone(),
            reason: cmd.reason.clone(),
        }))
    }

    #[event_sourcing_handler]
    fn on_placed(&mut self, e: &OrderPlaced) {
        self.id = e.order_id.clone();
        self.customer = e.customer.clone();
        self.status = Status::Open;
    }

    #[event_sourcing_handler]
    fn on_line_added(&mut self, e: &LineAdded) {
        self.lines.push(e.line.clone());
    }

    #[event_sourcing_handler]
    fn on_submitted(&mut self, _e: &OrderSubmitted) {
        self.status = Status::Submitted;
    }

    #[event_sourcing_handler]
    fn on_approved(&mut self, _e: &OrderApproved) {
        self.status = Status::Approved;
    }

    #[event_sourcing_handler]
    fn on_shipped(&mut self, _e: &OrderShipped) {
        self.status = Status::Shipped;
    }

    #[event_sourcing_handler]
    fn on_cancelled(&mut self, _e: &OrderCancelled) {
        self.status = Status::Cancelled;
    }
}
