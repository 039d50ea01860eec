//! The simulated application: accounts, transfers between them, and the
//! saga that carries a transfer out or undoes it.
//!
//! Every decision an account makes records `at`, the stream version its
//! event takes given the state it decided on: an event stored at another
//! version was decided on a stale state. Commands carry ids (`op`,
//! `transfer`) the aggregates remember, so that a command sent again after
//! an unknown outcome changes nothing.

use std::collections::{BTreeMap, BTreeSet};

use eventsource::BoxError;
use eventsource::prelude::*;
use eventsource::saga::DeadlineReached;
use serde::{Deserialize, Serialize};

/// How long a transfer may take before its saga's deadline falls due; a
/// transfer that ends first cancels it. Short enough that, under faults,
/// some transfers time out and others end in time.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_millis(1500);

/// The name of the transfer saga's deadline.
pub const TIMEOUT_NAME: &str = "timeout";

/// The account that refuses every credit: transfers to it are undone.
pub const FROZEN: &str = "acct-3";

/// Money paid in.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.Deposited")]
pub struct Deposited {
    /// The sender's operation.
    pub op: u64,
    /// How much.
    pub amount: i64,
    /// The stream version decided on, plus one.
    pub at: u64,
}

/// Money taken out.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.Withdrawn")]
pub struct Withdrawn {
    /// The sender's operation.
    pub op: u64,
    /// How much.
    pub amount: i64,
    /// The stream version decided on, plus one.
    pub at: u64,
}

/// A transfer took money from this account.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.Debited")]
pub struct Debited {
    /// The transfer.
    pub transfer: u64,
    /// How much.
    pub amount: i64,
    /// The stream version decided on, plus one.
    pub at: u64,
}

/// A transfer brought money to this account.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.Credited")]
pub struct Credited {
    /// The transfer.
    pub transfer: u64,
    /// How much.
    pub amount: i64,
    /// The stream version decided on, plus one.
    pub at: u64,
}

/// A failed transfer gave its debit back.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.Refunded")]
pub struct Refunded {
    /// The transfer.
    pub transfer: u64,
    /// How much.
    pub amount: i64,
    /// The stream version decided on, plus one.
    pub at: u64,
}

/// A transfer's debit was refused for want of money: the decision is
/// recorded, so a debit sent again (a saga replaying its event, or two
/// instances of it at once) finds it rather than decide anew.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.DebitRefused")]
pub struct DebitRefused {
    /// The transfer.
    pub transfer: u64,
    /// The stream version decided on, plus one.
    pub at: u64,
}

/// A transfer's credit was refused (the account is frozen), recorded once.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.CreditRefused")]
pub struct CreditRefused {
    /// The transfer.
    pub transfer: u64,
    /// The stream version decided on, plus one.
    pub at: u64,
}

/// Pays money in.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Deposit {
    /// The account.
    #[aggregate_id]
    pub account: String,
    /// The sender's operation.
    pub op: u64,
    /// How much.
    pub amount: i64,
}

/// Takes money out, if there is enough.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Withdraw {
    /// The account.
    #[aggregate_id]
    pub account: String,
    /// The sender's operation.
    pub op: u64,
    /// How much.
    pub amount: i64,
}

/// Takes a transfer's money, if there is enough.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Debit {
    /// The account.
    #[aggregate_id]
    pub account: String,
    /// The transfer.
    pub transfer: u64,
    /// How much.
    pub amount: i64,
}

/// Brings a transfer's money (refused by the frozen account).
#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Credit {
    /// The account.
    #[aggregate_id]
    pub account: String,
    /// The transfer.
    pub transfer: u64,
    /// How much.
    pub amount: i64,
}

/// Gives a transfer's debit back.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub struct Refund {
    /// The account.
    #[aggregate_id]
    pub account: String,
    /// The transfer.
    pub transfer: u64,
}

/// Why an account refuses.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// Not enough money.
    #[error("balance {balance}, {wanted} wanted")]
    Insufficient {
        /// What there is.
        balance: i64,
        /// What was asked.
        wanted: i64,
    },
}

/// An account.
#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "sim.Account")]
pub struct Account {
    /// The money in it.
    pub balance: i64,
    /// Events applied: the stream version.
    pub version: u64,
    /// Operations done.
    pub ops: BTreeSet<u64>,
    /// Transfers debited, with their amounts.
    pub debited: BTreeMap<u64, i64>,
    /// Transfers whose debit or credit was refused.
    pub refused: BTreeSet<u64>,
    /// Transfers credited.
    pub credited: BTreeSet<u64>,
    /// Transfers refunded.
    pub refunded: BTreeSet<u64>,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create_if_missing)]
    fn deposit(&self, cmd: &Deposit) -> Option<Deposited> {
        (!self.ops.contains(&cmd.op)).then(|| Deposited {
            op: cmd.op,
            amount: cmd.amount,
            at: self.version + 1,
        })
    }

    #[command_handler(create_if_missing)]
    fn withdraw(&self, cmd: &Withdraw) -> Result<Option<Withdrawn>, AccountError> {
        if self.ops.contains(&cmd.op) {
            return Ok(None);
        }
        if self.balance < cmd.amount {
            return Err(AccountError::Insufficient {
                balance: self.balance,
                wanted: cmd.amount,
            });
        }
        Ok(Some(Withdrawn {
            op: cmd.op,
            amount: cmd.amount,
            at: self.version + 1,
        }))
    }

    #[command_handler(create_if_missing)]
    fn debit(&self, cmd: &Debit) -> Option<AccountEvent> {
        if self.debited.contains_key(&cmd.transfer) || self.refused.contains(&cmd.transfer) {
            return None;
        }
        let at = self.version + 1;
        Some(if self.balance < cmd.amount {
            DebitRefused {
                transfer: cmd.transfer,
                at,
            }
            .into()
        } else {
            Debited {
                transfer: cmd.transfer,
                amount: cmd.amount,
                at,
            }
            .into()
        })
    }

    #[command_handler(create_if_missing)]
    fn credit(&self, cmd: &Credit) -> Option<AccountEvent> {
        if self.credited.contains(&cmd.transfer) || self.refused.contains(&cmd.transfer) {
            return None;
        }
        let at = self.version + 1;
        Some(if cmd.account == FROZEN {
            CreditRefused {
                transfer: cmd.transfer,
                at,
            }
            .into()
        } else {
            Credited {
                transfer: cmd.transfer,
                amount: cmd.amount,
                at,
            }
            .into()
        })
    }

    #[command_handler(create_if_missing)]
    fn refund(&self, cmd: &Refund) -> Option<Refunded> {
        if self.refunded.contains(&cmd.transfer) {
            return None;
        }
        self.debited.get(&cmd.transfer).map(|amount| Refunded {
            transfer: cmd.transfer,
            amount: *amount,
            at: self.version + 1,
        })
    }

    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
        self.ops.insert(e.op);
        self.version += 1;
    }

    #[event_sourcing_handler]
    fn on_withdrawn(&mut self, e: &Withdrawn) {
        self.balance -= e.amount;
        self.ops.insert(e.op);
        self.version += 1;
    }

    #[event_sourcing_handler]
    fn on_debited(&mut self, e: &Debited) {
        self.balance -= e.amount;
        self.debited.insert(e.transfer, e.amount);
        self.version += 1;
    }

    #[event_sourcing_handler]
    fn on_debit_refused(&mut self, e: &DebitRefused) {
        self.refused.insert(e.transfer);
        self.version += 1;
    }

    #[event_sourcing_handler]
    fn on_credit_refused(&mut self, e: &CreditRefused) {
        self.refused.insert(e.transfer);
        self.version += 1;
    }

    #[event_sourcing_handler]
    fn on_credited(&mut self, e: &Credited) {
        self.balance += e.amount;
        self.credited.insert(e.transfer);
        self.version += 1;
    }

    #[event_sourcing_handler]
    fn on_refunded(&mut self, e: &Refunded) {
        self.balance += e.amount;
        self.refunded.insert(e.transfer);
        self.version += 1;
    }
}

/// A transfer was asked for.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.TransferStarted")]
pub struct TransferStarted {
    /// The transfer.
    pub transfer: u64,
    /// The account paying.
    pub from: String,
    /// The account paid.
    pub to: String,
    /// How much.
    pub amount: i64,
}

/// The money arrived.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.TransferCompleted")]
pub struct TransferCompleted {
    /// The transfer.
    pub transfer: u64,
}

/// The transfer did not happen (or was undone).
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "sim.TransferFailed")]
pub struct TransferFailed {
    /// The transfer.
    pub transfer: u64,
}

/// Asks for a transfer.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Transfer)]
pub struct StartTransfer {
    /// The transfer's stream id.
    #[aggregate_id]
    pub id: String,
    /// The transfer.
    pub transfer: u64,
    /// The account paying.
    pub from: String,
    /// The account paid.
    pub to: String,
    /// How much.
    pub amount: i64,
}

/// Ends a transfer that went through.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Transfer)]
pub struct CompleteTransfer {
    /// The transfer's stream id.
    #[aggregate_id]
    pub id: String,
    /// The transfer.
    pub transfer: u64,
}

/// Ends a transfer that did not.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Transfer)]
pub struct FailTransfer {
    /// The transfer's stream id.
    #[aggregate_id]
    pub id: String,
    /// The transfer.
    pub transfer: u64,
}

/// A transfer's own record.
#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize)]
#[aggregate(name = "sim.Transfer")]
pub struct Transfer {
    /// Whether it was asked for.
    pub started: bool,
    /// Whether it ended.
    pub ended: bool,
}

#[aggregate_impl]
impl Transfer {
    #[command_handler(create_if_missing)]
    fn start(&self, cmd: &StartTransfer) -> Option<TransferStarted> {
        (!self.started).then(|| TransferStarted {
            transfer: cmd.transfer,
            from: cmd.from.clone(),
            to: cmd.to.clone(),
            amount: cmd.amount,
        })
    }

    #[command_handler(create_if_missing)]
    fn complete(&self, cmd: &CompleteTransfer) -> Option<TransferCompleted> {
        (!self.ended).then_some(TransferCompleted {
            transfer: cmd.transfer,
        })
    }

    #[command_handler(create_if_missing)]
    fn fail(&self, cmd: &FailTransfer) -> Option<TransferFailed> {
        (!self.ended).then_some(TransferFailed {
            transfer: cmd.transfer,
        })
    }

    #[event_sourcing_handler]
    fn on_started(&mut self, _e: &TransferStarted) {
        self.started = true;
    }

    #[event_sourcing_handler]
    fn on_completed(&mut self, _e: &TransferCompleted) {
        self.ended = true;
    }

    #[event_sourcing_handler]
    fn on_failed(&mut self, _e: &TransferFailed) {
        self.ended = true;
    }
}

/// The stream id of transfer `transfer`.
pub fn transfer_stream(transfer: u64) -> String {
    format!("transfer-{transfer}")
}

/// One transfer carried out: debit, credit, end; or, when the credit is
/// refused, refund and fail; or, when the debit is refused, fail.
///
/// Each handler sends the next command whatever it finds: the aggregates
/// record every decision once (a refusal is an event too), so a command
/// sent again, by a replay or by two instances at once, changes nothing.
/// The state keeps only what later steps need.
///
/// The saga also asks for a deadline when the transfer starts and cancels
/// it when the transfer ends; a transfer slower than [`TIMEOUT`] is only
/// marked late (the deadline checks the scheduler, not the money).
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct TransferSaga {
    /// Whether the deadline fell due before the transfer ended.
    #[serde(default)]
    pub late: bool,
    /// The transfer.
    pub transfer: u64,
    /// The account paying.
    pub from: String,
    /// The account paid.
    pub to: String,
    /// How much.
    pub amount: i64,
}

#[saga(name = "sim.transfer")]
impl TransferSaga {
    #[start]
    async fn on_started(
        &mut self,
        e: &TransferStarted,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        self.transfer = e.transfer;
        self.from = e.from.clone();
        self.to = e.to.clone();
        self.amount = e.amount;
        ctx.schedule_after(
            TIMEOUT_NAME,
            TIMEOUT,
            serde_json::json!({ "transfer": e.transfer }),
        );
        let debit = Debit {
            account: e.from.clone(),
            transfer: e.transfer,
            amount: e.amount,
        };
        ctx.dispatch(debit).await?;
        Ok(())
    }

    async fn on_debited(
        &mut self,
        _e: &Debited,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        let credit = Credit {
            account: self.to.clone(),
            transfer: self.transfer,
            amount: self.amount,
        };
        ctx.dispatch(credit).await?;
        Ok(())
    }

    async fn on_debit_refused(
        &mut self,
        _e: &DebitRefused,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        self.fail(ctx).await
    }

    async fn on_credited(
        &mut self,
        _e: &Credited,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        let complete = CompleteTransfer {
            id: transfer_stream(self.transfer),
            transfer: self.transfer,
        };
        ctx.dispatch(complete).await?;
        Ok(())
    }

    async fn on_credit_refused(
        &mut self,
        _e: &CreditRefused,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        let refund = Refund {
            account: self.from.clone(),
            transfer: self.transfer,
        };
        ctx.dispatch(refund).await?;
        Ok(())
    }

    async fn on_refunded(
        &mut self,
        _e: &Refunded,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        self.fail(ctx).await
    }

    async fn on_completed(
        &mut self,
        _e: &TransferCompleted,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        ctx.cancel_deadline(TIMEOUT_NAME);
        ctx.complete();
        Ok(())
    }

    async fn on_failed(
        &mut self,
        _e: &TransferFailed,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        ctx.cancel_deadline(TIMEOUT_NAME);
        ctx.complete();
        Ok(())
    }

    async fn on_deadline(
        &mut self,
        _e: &DeadlineReached,
        _ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        self.late = true;
        Ok(())
    }
}

impl TransferSaga {
    async fn fail(&mut self, ctx: &mut SagaContext<'_>) -> Result<(), BoxError> {
        let fail = FailTransfer {
            id: transfer_stream(self.transfer),
            transfer: self.transfer,
        };
        ctx.dispatch(fail).await?;
        Ok(())
    }
}
