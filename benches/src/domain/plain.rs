//! The account written by hand, without the framework: the baseline that
//! decodes the same JSON with `serde_json` and applies it with a `match`.

use serde::Deserialize;

/// `bench.AccountOpened` at version 2.
#[derive(Deserialize)]
pub(crate) struct Opened {
    owner: String,
    currency: String,
    overdraft_limit: i64,
}

/// `bench.AccountOpened` at version 1.
#[derive(Deserialize)]
struct OpenedV1 {
    owner: String,
    currency: String,
}

/// `bench.MoneyDeposited` at version 2.
#[derive(Deserialize)]
pub(crate) struct Deposited {
    pub(crate) amount: i64,
    #[allow(dead_code)]
    reference: String,
    #[allow(dead_code)]
    channel: String,
}

/// `bench.MoneyDeposited` at version 1.
#[derive(Deserialize)]
struct DepositedV1 {
    amount: i64,
    reference: String,
}

/// `bench.FundsWithdrawn`.
#[derive(Deserialize)]
pub(crate) struct Withdrawn {
    pub(crate) amount: i64,
    #[allow(dead_code)]
    reference: String,
}

/// `bench.FeeCharged`.
#[derive(Deserialize)]
pub(crate) struct Fee {
    pub(crate) amount: i64,
    #[allow(dead_code)]
    reason: String,
}

/// `bench.OverdraftLimitChanged`.
#[derive(Deserialize)]
pub(crate) struct LimitChanged {
    limit: i64,
}

/// The account's events.
pub(crate) enum PlainEvent {
    /// Opened.
    Opened(Opened),
    /// Deposited.
    Deposited(Deposited),
    /// Withdrawn.
    Withdrawn(Withdrawn),
    /// A fee.
    Fee(Fee),
    /// A new overdraft limit.
    LimitChanged(LimitChanged),
}

/// Why a stored event could not be decoded.
#[derive(Debug)]
pub(crate) enum PlainError {
    /// The JSON did not match.
    Json(serde_json::Error),
    /// No such name and version.
    Unknown(String, u32),
}

impl std::fmt::Display for PlainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Json(error) => write!(f, "invalid payload: {error}"),
            Self::Unknown(name, version) => write!(f, "unknown event {name} v{version}"),
        }
    }
}

impl std::error::Error for PlainError {}

impl From<serde_json::Error> for PlainError {
    fn from(error: serde_json::Error) -> Self {
        Self::Json(error)
    }
}

/// Decodes one stored event, lifting version 1 shapes by hand.
pub(crate) fn decode(name: &str, version: u32, json: &str) -> Result<PlainEvent, PlainError> {
    use serde_json::from_str;
    Ok(match (name, version) {
        ("bench.MoneyDeposited", 2) => PlainEvent::Deposited(from_str(json)?),
        ("bench.FundsWithdrawn", 1) => PlainEvent::Withdrawn(from_str(json)?),
        ("bench.FeeCharged", 1) => PlainEvent::Fee(from_str(json)?),
        ("bench.OverdraftLimitChanged", 1) => PlainEvent::LimitChanged(from_str(json)?),
        ("bench.AccountOpened", 2) => PlainEvent::Opened(from_str(json)?),
        ("bench.MoneyDeposited", 1) => {
            let v1: DepositedV1 = from_str(json)?;
            PlainEvent::Deposited(Deposited {
                amount: v1.amount,
                reference: v1.reference,
                channel: "branch".into(),
            })
        }
        ("bench.AccountOpened", 1) => {
            let v1: OpenedV1 = from_str(json)?;
            PlainEvent::Opened(Opened {
                owner: v1.owner,
                currency: v1.currency,
                overdraft_limit: 0,
            })
        }
        _ => return Err(PlainError::Unknown(name.to_owned(), version)),
    })
}

/// The account's state, as the framework's `Account` holds it (and as its
/// snapshots store it).
#[derive(Default, Debug, PartialEq, Eq, Deserialize)]
pub(crate) struct PlainAccount {
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

impl PlainAccount {
    /// Applies one event.
    pub(crate) fn apply(&mut self, event: &PlainEvent) {
        match event {
            PlainEvent::Opened(e) => {
                self.owner.clone_from(&e.owner);
                self.currency.clone_from(&e.currency);
                self.overdraft_limit = e.overdraft_limit;
            }
            PlainEvent::Deposited(e) => {
                self.balance += e.amount;
                self.deposits += 1;
            }
            PlainEvent::Withdrawn(e) => {
                self.balance -= e.amount;
                self.withdrawals += 1;
            }
            PlainEvent::Fee(e) => {
                self.balance -= e.amount;
                self.fees += e.amount;
            }
            PlainEvent::LimitChanged(e) => self.overdraft_limit = e.limit,
        }
    }
}
