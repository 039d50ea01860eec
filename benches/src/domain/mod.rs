//! The benchmark domain: a ledger account written with the macros, the same
//! account written by hand for the baselines, and the stored event mix.
//!
//! Two of its five events have an older schema version: `AccountOpened`
//! (version 1 had no overdraft limit) and `MoneyDeposited` (version 1 had no
//! channel), each lifted by a typed upcaster (old struct in, event out); the
//! same upcasters in the JSON form are in [`json_upcasters`].

pub(crate) mod mix;
pub(crate) mod plain;

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

/// An account was opened. Version 2 added `overdraft_limit`.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bench.AccountOpened", version = 2)]
pub(crate) struct AccountOpened {
    /// Who owns the account.
    pub(crate) owner: String,
    /// Its currency code.
    pub(crate) currency: String,
    /// How far below zero the balance may go, in cents.
    pub(crate) overdraft_limit: i64,
}

/// Money was paid in. Version 2 added `channel`.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bench.MoneyDeposited", version = 2)]
pub(crate) struct MoneyDeposited {
    /// The amount, in cents.
    pub(crate) amount: i64,
    /// The payer's reference.
    pub(crate) reference: String,
    /// Where the money came in.
    pub(crate) channel: String,
}

/// Money was taken out.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bench.FundsWithdrawn")]
pub(crate) struct FundsWithdrawn {
    /// The amount, in cents.
    pub(crate) amount: i64,
    /// The payee's reference.
    pub(crate) reference: String,
}

/// The bank charged a fee.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bench.FeeCharged")]
pub(crate) struct FeeCharged {
    /// The amount, in cents.
    pub(crate) amount: i64,
    /// Why.
    pub(crate) reason: String,
}

/// The overdraft limit changed.
#[derive(Event, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[event(name = "bench.OverdraftLimitChanged")]
pub(crate) struct OverdraftLimitChanged {
    /// The new limit, in cents.
    pub(crate) limit: i64,
}

/// `bench.AccountOpened` at version 1: no overdraft limit yet.
#[derive(Deserialize)]
pub(crate) struct AccountOpenedV1 {
    owner: String,
    currency: String,
}

/// Version 1 accounts had no overdraft.
#[upcaster(event = "bench.AccountOpened", from = 1)]
fn account_opened_v1(v1: AccountOpenedV1) -> AccountOpened {
    AccountOpened {
        owner: v1.owner,
        currency: v1.currency,
        overdraft_limit: 0,
    }
}

/// `bench.MoneyDeposited` at version 1: no channel yet.
#[derive(Deserialize)]
pub(crate) struct MoneyDepositedV1 {
    amount: i64,
    reference: String,
}

/// Version 1 deposits were all made at a branch.
#[upcaster(event = "bench.MoneyDeposited", from = 1)]
fn money_deposited_v1(v1: MoneyDepositedV1) -> MoneyDeposited {
    MoneyDeposited {
        amount: v1.amount,
        reference: v1.reference,
        channel: "branch".into(),
    }
}

/// The same two upcasters in the JSON form, for the registry that the
/// JSON-upcaster rehydration case decodes with.
pub(crate) mod json_upcasters {
    use eventsource::UpcastError;
    use eventsource::registry::{Registry, RegistryParts, UpcasterRegistration};
    use serde_json::Value;

    fn account_opened_v1(mut payload: Value) -> Result<Value, UpcastError> {
        let fields = payload
            .as_object_mut()
            .ok_or_else(UpcastError::not_an_object)?;
        fields.insert("overdraft_limit".into(), 0.into());
        Ok(payload)
    }

    fn money_deposited_v1(mut payload: Value) -> Result<Value, UpcastError> {
        let fields = payload
            .as_object_mut()
            .ok_or_else(UpcastError::not_an_object)?;
        fields.insert("channel".into(), "branch".into());
        Ok(payload)
    }

    /// The program's registry with the account's typed upcasters replaced
    /// by these.
    pub(crate) fn registry() -> Registry {
        let mut parts: RegistryParts = Registry::global().parts().clone();
        parts.upcasters.retain(|u| !u.event.starts_with("bench."));
        parts.upcasters.extend([
            UpcasterRegistration::new(
                "bench.AccountOpened",
                1,
                account_opened_v1,
                "json_upcasters::account_opened_v1",
            ),
            UpcasterRegistration::new(
                "bench.MoneyDeposited",
                1,
                money_deposited_v1,
                "json_upcasters::money_deposited_v1",
            ),
        ]);
        Registry::build(parts)
    }
}

/// Opens an account.
#[derive(Command, Clone, Debug)]
#[command(aggregate = Account)]
pub(crate) struct OpenAccount {
    /// The account id.
    #[aggregate_id]
    pub(crate) id: String,
    /// Its owner.
    pub(crate) owner: String,
    /// Its overdraft limit, in cents.
    pub(crate) overdraft_limit: i64,
}

/// Pays money in.
#[derive(Command, Clone, Debug)]
#[command(aggregate = Account)]
pub(crate) struct Deposit {
    /// The account id.
    #[aggregate_id]
    pub(crate) id: String,
    /// The amount, in cents.
    pub(crate) amount: i64,
    /// The payer's reference.
    pub(crate) reference: String,
}

/// Takes money out.
#[derive(Command, Clone, Debug)]
#[command(aggregate = Account)]
pub(crate) struct Withdraw {
    /// The account id.
    #[aggregate_id]
    pub(crate) id: String,
    /// The amount, in cents.
    pub(crate) amount: i64,
    /// The payee's reference.
    pub(crate) reference: String,
}

/// Why the account refuses a command.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AccountError {
    /// Amounts must be positive.
    InvalidAmount(i64),
    /// The withdrawal would pass the overdraft limit.
    InsufficientFunds,
}

impl std::fmt::Display for AccountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidAmount(amount) => write!(f, "the amount must be positive, got {amount}"),
            Self::InsufficientFunds => f.write_str("insufficient funds"),
        }
    }
}

/// A ledger account.
#[derive(Aggregate, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[aggregate(name = "bench.Account", snapshot_every = 100)]
pub(crate) struct Account {
    /// Who owns it.
    pub(crate) owner: String,
    /// Its currency.
    pub(crate) currency: String,
    /// The balance, in cents.
    pub(crate) balance: i64,
    /// How far below zero the balance may go.
    pub(crate) overdraft_limit: i64,
    /// Deposits so far.
    pub(crate) deposits: u64,
    /// Withdrawals so far.
    pub(crate) withdrawals: u64,
    /// Fees charged so far, in cents.
    pub(crate) fees: i64,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create)]
    pub(crate) fn open(&self, cmd: &OpenAccount) -> Result<AccountOpened, AccountError> {
        if cmd.overdraft_limit < 0 {
            return Err(AccountError::InvalidAmount(cmd.overdraft_limit));
        }
        Ok(AccountOpened {
            owner: cmd.owner.clone(),
            currency: "EUR".into(),
            overdraft_limit: cmd.overdraft_limit,
        })
    }

    #[command_handler]
    pub(crate) fn deposit(&self, cmd: &Deposit) -> Result<MoneyDeposited, AccountError> {
        if cmd.amount <= 0 {
            return Err(AccountError::InvalidAmount(cmd.amount));
        }
        Ok(MoneyDeposited {
            amount: cmd.amount,
            reference: cmd.reference.clone(),
            channel: "online".into(),
        })
    }

    /// Withdraws; every tenth withdrawal also charges a fee.
    #[command_handler]
    pub(crate) fn withdraw(&self, cmd: &Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        if cmd.amount <= 0 {
            return Err(AccountError::InvalidAmount(cmd.amount));
        }
        if self.balance - cmd.amount < -self.overdraft_limit {
            return Err(AccountError::InsufficientFunds);
        }
        let mut events = vec![AccountEvent::from(FundsWithdrawn {
            amount: cmd.amount,
            reference: cmd.reference.clone(),
        })];
        if self.withdrawals % 10 == 9 {
            events.push(AccountEvent::from(FeeCharged {
                amount: 25,
                reason: "withdrawal fee".into(),
            }));
        }
        Ok(events)
    }

    #[event_sourcing_handler]
    pub(crate) fn on_opened(&mut self, e: &AccountOpened) {
        self.owner.clone_from(&e.owner);
        self.currency.clone_from(&e.currency);
        self.overdraft_limit = e.overdraft_limit;
    }

    #[event_sourcing_handler]
    pub(crate) fn on_deposited(&mut self, e: &MoneyDeposited) {
        self.balance += e.amount;
        self.deposits += 1;
    }

    #[event_sourcing_handler]
    pub(crate) fn on_withdrawn(&mut self, e: &FundsWithdrawn) {
        self.balance -= e.amount;
        self.withdrawals += 1;
    }

    #[event_sourcing_handler]
    pub(crate) fn on_fee(&mut self, e: &FeeCharged) {
        self.balance -= e.amount;
        self.fees += e.amount;
    }

    #[event_sourcing_handler]
    pub(crate) fn on_limit_changed(&mut self, e: &OverdraftLimitChanged) {
        self.overdraft_limit = e.limit;
    }
}
