//! Fulfilment: reserve inventory, take payment, approve; on a declined
//! payment, release the inventory and cancel the order.

use eventsource::BoxError;
use eventsource::CommandError;
use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

use crate::inventory::{InventoryReserved, ReleaseInventory, ReserveInventory};
use crate::order::{ApproveOrder, CancelOrder, OrderError, OrderSubmitted, Status};
use crate::payment::{PaymentFailed, PaymentTaken, TakePayment};

/// The warehouse every order is served from.
pub const WAREHOUSE: &str = "main";

/// How far a fulfilment has come.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Step {
    /// Not started.
    #[default]
    Idle,
    /// Waiting for the warehouse.
    Reserving,
    /// Waiting for the payment.
    Paying,
    /// Done: the order is approved.
    Approved,
    /// Done: stock was out, the order is cancelled.
    Rejected,
    /// Done: payment failed, the reservation was released and the order cancelled.
    Compensated,
}

/// One order's fulfilment, persisted between events.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct Fulfilment {
    /// The order.
    pub order_id: String,
    /// What to charge.
    pub total: i64,
    /// Where it stands.
    pub step: Step,
}

#[saga(
    name = "orders.fulfilment",
    dispatches = [ReserveInventory, TakePayment, ApproveOrder, ReleaseInventory, CancelOrder]
)]
impl Fulfilment {
    #[start]
    async fn on_submitted(
        &mut self,
        e: &OrderSubmitted,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        if self.step != Step::Idle {
            return Ok(());
        }
        self.order_id = e.order_id.clone();
        self.total = e.total;
        let reserve = ReserveInventory {
            warehouse: WAREHOUSE.into(),
            order_id: e.order_id.clone(),
            lines: e.lines.clone(),
        };
        match ctx.dispatch(reserve).await {
            Ok(_) => self.step = Step::Reserving,
            Err(CommandError::Rejected(out_of_stock)) => {
                self.cancel(ctx, out_of_stock.to_string()).await?;
                self.step = Step::Rejected;
                ctx.complete();
            }
            Err(failure) => return Err(failure.into()),
        }
        Ok(())
    }

    async fn on_reserved(
        &mut self,
        _e: &InventoryReserved,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        if self.step != Step::Reserving {
            return Ok(());
        }
        ctx.dispatch(TakePayment {
            order_id: self.order_id.clone(),
            amount: self.total,
        })
        .await?;
        self.step = Step::Paying;
        Ok(())
    }

    async fn on_paid(
        &mut self,
        _e: &PaymentTaken,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        if self.step != Step::Paying {
            return Ok(());
        }
        let approve = ApproveOrder {
            order_id: self.order_id.clone(),
        };
        match ctx.dispatch(approve).await {
            Ok(_) => {}
            // The event came again after a crash that fell between the
            // approval and saving this state: the step was taken.
            Err(CommandError::Rejected(OrderError::WrongStatus {
                status: Status::Approved | Status::Shipped,
                ..
            })) => {}
            Err(failure) => return Err(failure.into()),
        }
        self.step = Step::Approved;
        ctx.complete();
        Ok(())
    }

    async fn on_payment_failed(
        &mut self,
        e: &PaymentFailed,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        if self.step != Step::Paying {
            return Ok(());
        }
        // Compensate the steps already taken, newest first.
        ctx.dispatch(ReleaseInventory {
            warehouse: WAREHOUSE.into(),
            order_id: self.order_id.clone(),
        })
        .await?;
        self.cancel(ctx, e.reason.clone()).await?;
        self.step = Step::Compensated;
        ctx.complete();
        Ok(())
    }
}

impl Fulfilment {
    async fn cancel(&self, ctx: &mut SagaContext<'_>, reason: String) -> Result<(), BoxError> {
        ctx.dispatch(CancelOrder {
            order_id: self.order_id.clone(),
            reason,
        })
        .await?;
        Ok(())
    }
}
