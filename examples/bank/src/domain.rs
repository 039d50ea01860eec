//! The bank account domain: events, commands, errors and the aggregate.

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

/// An account was opened. Version 2 added `overdraft_limit`.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bank.AccountOpened", version = 2)]
pub(crate) struct AccountOpened {
    /// Who owns the account.
    pub(crate) owner: String,
    /// How far below zero the balance may go.
    pub(crate) overdraft_limit: i64,
}

/// Money was paid in.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bank.MoneyDeposited")]
pub(crate) struct MoneyDeposited {
    /// The amount, in cents.
    pub(crate) amount: i64,
}

/// Money was taken out. Stored as `bank.MoneyWithdrawn` before it was renamed.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bank.FundsWithdrawn", aliases = ["bank.MoneyWithdrawn"])]
pub(crate) struct FundsWithdrawn {
    /// The amount, in cents.
    pub(crate) amount: i64,
}

/// The account was closed.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bank.AccountClosed")]
pub(crate) struct AccountClosed {}

/// Version 1 of `AccountOpened` had no overdraft; old accounts get none.
#[upcaster(event = "bank.AccountOpened", from = 1)]
fn account_opened_v1(mut payload: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    let fields = payload
        .as_object_mut()
        .ok_or_else(UpcastError::not_an_object)?;
    fields.insert("overdraft_limit".into(), 0.into());
    Ok(payload)
}

/// Opens a new account.
#[derive(Command, Debug)]
#[command(aggregate = Account)]
pub(crate) struct OpenAccount {
    /// The new account's id.
    #[aggregate_id]
    pub(crate) account_id: String,
    /// Its owner.
    pub(crate) owner: String,
    /// Its overdraft limit, in cents.
    pub(crate) overdraft_limit: i64,
}

/// Pays money in.
#[derive(Command, Debug)]
#[command(aggregate = Account)]
pub(crate) struct Deposit {
    /// The account.
    #[aggregate_id]
    pub(crate) account_id: String,
    /// The amount, in cents.
    pub(crate) amount: i64,
}

/// Takes money out.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Account)]
pub(crate) struct Withdraw {
    /// The account.
    #[aggregate_id]
    pub(crate) account_id: String,
    /// The amount, in cents.
    pub(crate) amount: i64,
}

/// Closes the account.
#[derive(Command, Debug)]
#[command(aggregate = Account)]
pub(crate) struct CloseAccount {
    /// The account.
    #[aggregate_id]
    pub(crate) account_id: String,
}

/// Why the bank refuses a command.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BankError {
    /// Amounts must be positive.
    #[error("the amount must be positive, got {0}")]
    InvalidAmount(i64),
    /// The withdrawal would go past the overdraft limit.
    #[error(
        "insufficient funds: balance {balance}, overdraft limit {limit}, requested {requested}"
    )]
    InsufficientFunds {
        /// The current balance.
        balance: i64,
        /// The overdraft limit.
        limit: i64,
        /// The amount asked for.
        requested: i64,
    },
    /// The account is closed.
    #[error("the account is closed")]
    Closed,
    /// Only an empty account can be closed.
    #[error("cannot close an account holding {0}")]
    NotEmpty(i64),
}

/// A bank account: its balance and whether it is open.
#[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "bank.Account", snapshot_every = 5)]
pub(crate) struct Account {
    /// Who owns it.
    pub(crate) owner: String,
    /// The balance in cents.
    pub(crate) balance: i64,
    /// How far below zero the balance may go.
    pub(crate) overdraft_limit: i64,
    /// Whether it is closed.
    pub(crate) closed: bool,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create)]
    fn open(&self, cmd: &OpenAccount) -> Result<AccountOpened, BankError> {
        if cmd.overdraft_limit < 0 {
            return Err(BankError::InvalidAmount(cmd.overdraft_limit));
        }
        Ok(AccountOpened {
            owner: cmd.owner.clone(),
            overdraft_limit: cmd.overdraft_limit,
        })
    }

    #[command_handler]
    fn deposit(&self, cmd: &Deposit) -> Result<MoneyDeposited, BankError> {
        self.ensure_open()?;
        if cmd.amount <= 0 {
            return Err(BankError::InvalidAmount(cmd.amount));
        }
        Ok(MoneyDeposited { amount: cmd.amount })
    }

    #[command_handler]
    fn withdraw(&self, cmd: &Withdraw) -> Result<FundsWithdrawn, BankError> {
        self.ensure_open()?;
        if cmd.amount <= 0 {
            return Err(BankError::InvalidAmount(cmd.amount));
        }
        if self.balance - cmd.amount < -self.overdraft_limit {
            return Err(BankError::InsufficientFunds {
                balance: self.balance,
                limit: self.overdraft_limit,
                requested: cmd.amount,
            });
        }
        Ok(FundsWithdrawn { amount: cmd.amount })
    }

    #[command_handler]
    fn close(&self, _cmd: &CloseAccount) -> Result<AccountClosed, BankError> {
        self.ensure_open()?;
        if self.balance != 0 {
            return Err(BankError::NotEmpty(self.balance));
        }
        Ok(AccountClosed {})
    }

    #[event_sourcing_handler]
    fn on_opened(&mut self, e: &AccountOpened) {
        self.owner = e.owner.clone();
        self.overdraft_limit = e.overdraft_limit;
    }

    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &MoneyDeposited) {
        self.balance += e.amount;
    }

    #[event_sourcing_handler]
    fn on_withdrawn(&mut self, e: &FundsWithdrawn) {
        self.balance -= e.amount;
    }

    #[event_sourcing_handler]
    fn on_closed(&mut self, _e: &AccountClosed) {
        self.closed = true;
    }

    fn ensure_open(&self) -> Result<(), BankError> {
        if self.closed {
            Err(BankError::Closed)
        } else {
            Ok(())
        }
    }
}
