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
use eventsource::CommandError;
use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

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
    /// The account takes no credit.
    #[error("the account is frozen")]
    Frozen,
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
    fn debit(&self, cmd: &Debit) -> Result<Option<Debited>, AccountError> {
        if self.debited.contains_key(&cmd.transfer) {
            return Ok(None);
        }
        if self.balance < cmd.amount {
            return Err(AccountError::Insufficient {
                balance: self.balance,
                wanted: cmd.amount,
            });
        }
        Ok(Some(Debited {
            transfer: cmd.transfer,
            amount: cmd.amount,
            at: self.version + 1,
        }))
    }

    #[command_handler(create_if_missing)]
    fn credit(&self, cmd: &Credit) -> Result<Option<Credited>, AccountError> {
        if cmd.account == FROZEN {
            return Err(AccountError::Frozen);
        }
        Ok((!self.credited.contains(&cmd.transfer)).then(|| Credited {
            transfer: cmd.transfer,
            amount: cmd.amount,
            at: self.version + 1,
        }))
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

/// Where a transfer's saga stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Step {
    /// Not started.
    #[default]
    Idle,
    /// Waiting for the debit.
    Debiting,
    /// Waiting for the credit.
    Crediting,
    /// Waiting for the refund.
    Refunding,
    /// Waiting for the transfer to end.
    Ending,
    /// Ended.
    Done,
}

/// One transfer carried out: debit, credit, end; or, when the credit is
/// refused, refund and fail.
#[derive(Serialize, Deserialize, Clone, Debug, Default)]
pub struct TransferSaga {
    /// The transfer.
    pub transfer: u64,
    /// The account paying.
    pub from: String,
    /// The account paid.
    pub to: String,
    /// How much.
    pub amount: i64,
    /// Where it stands.
    pub step: Step,
}

#[saga(name = "sim.transfer")]
impl TransferSaga {
    #[start]
    async fn on_started(
        &mut self,
        e: &TransferStarted,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        if self.step != Step::Idle {
            return Ok(());
        }
        self.transfer = e.transfer;
        self.from = e.from.clone();
        self.to = e.to.clone();
        self.amount = e.amount;
        let debit = Debit {
            account: e.from.clone(),
            transfer: e.transfer,
            amount: e.amount,
        };
        match ctx.dispatch(debit).await {
            Ok(_) => self.step = Step::Debiting,
            Err(CommandError::Rejected(_)) => {
                self.fail(ctx).await?;
            }
            Err(failure) => return Err(failure.into()),
        }
        Ok(())
    }

    async fn on_debited(&mut self, _e: &Debited, ctx: &mut SagaContext<'_>) -> Result<(), BoxError> {
        if self.step != Step::Debiting {
            return Ok(());
        }
        let credit = Credit {
            account: self.to.clone(),
            transfer: self.transfer,
            amount: self.amount,
        };
        match ctx.dispatch(credit).await {
            Ok(_) => self.step = Step::Crediting,
            Err(CommandError::Rejected(_)) => {
                let refund = Refund {
                    account: self.from.clone(),
                    transfer: self.transfer,
                };
                ctx.dispatch(refund).await?;
                self.step = Step::Refunding;
            }
            Err(failure) => return Err(failure.into()),
        }
        Ok(())
    }

    async fn on_credited(
        &mut self,
        _e: &Credited,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        if self.step != Step::Crediting {
            return Ok(());
        }
        let complete = CompleteTransfer {
            id: transfer_stream(self.transfer),
            transfer: self.transfer,
        };
        ctx.dispatch(complete).await?;
        self.step = Step::Ending;
        Ok(())
    }

    async fn on_refunded(
        &mut self,
        _e: &Refunded,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        if self.step != Step::Refunding {
            return Ok(());
        }
        self.fail(ctx).await
    }

    async fn on_completed(
        &mut self,
        _e: &TransferCompleted,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        self.step = Step::Done;
        ctx.complete();
        Ok(())
    }

    async fn on_failed(
        &mut self,
        _e: &TransferFailed,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), BoxError> {
        self.step = Step::Done;
        ctx.complete();
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
        self.step = Step::Ending;
        Ok(())
    }
}
