//! Payments: one per order, taken or declined.

use eventsource::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The amount above which the (simulated) card processor declines.
pub const CARD_LIMIT: i64 = 100_000;

/// The payment went through.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.PaymentTaken")]
pub struct PaymentTaken {
    /// The order paid for.
    pub order_id: String,
    /// The amount in cents.
    pub amount: i64,
}

/// The payment was declined: a fact, recorded like any other.
#[derive(Event, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[event(name = "orders.PaymentFailed")]
pub struct PaymentFailed {
    /// The order.
    pub order_id: String,
    /// Why.
    pub reason: String,
}

/// Charges the customer for an order.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Payment)]
pub struct TakePayment {
    /// The order (one payment per order).
    #[aggregate_id]
    pub order_id: String,
    /// The amount in cents.
    pub amount: i64,
}

/// A payment attempt.
#[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "orders.Payment")]
pub struct Payment {
    /// Whether money was taken.
    pub taken: bool,
}

#[aggregate_impl]
impl Payment {
    #[command_handler(create_if_missing)]
    fn take(&self, cmd: &TakePayment) -> Vec<PaymentEvent> {
        if self.taken {
            return Vec::new();
        }
        if cmd.amount > CARD_LIMIT {
            return vec![
                PaymentFailed {
                    order_id: cmd.order_id.clone(),
                    reason: format!("card declined for {} cents", cmd.amount),
                }
                .into(),
            ];
        }
        vec![
            PaymentTaken {
                order_id: cmd.order_id.clone(),
                amount: cmd.amount,
            }
            .into(),
        ]
    }

    #[event_sourcing_handler]
    fn on_taken(&mut self, _e: &PaymentTaken) {
        self.taken = true;
    }

    #[event_sourcing_handler]
    fn on_failed(&mut self, _e: &PaymentFailed) {}
}
