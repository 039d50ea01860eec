//! A small ledger domain shared by the runtime's integration tests.

#![allow(dead_code, unreachable_pub)]

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "test.LedgerOpened")]
pub struct Opened {
    pub owner: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "test.Credited")]
pub struct Credited {
    pub amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "test.Debited")]
pub struct Debited {
    pub amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "test.Noted")]
pub struct Noted {
    pub text: String,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Ledger)]
pub struct Open {
    #[aggregate_id]
    pub id: String,
    pub owner: String,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Ledger)]
pub struct Credit {
    #[aggregate_id]
    pub id: String,
    pub amount: i64,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Ledger)]
pub struct Debit {
    #[aggregate_id]
    pub id: String,
    pub amount: i64,
}

/// Notes `text` unless empty; creates the ledger if it is missing.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Ledger)]
pub struct Note {
    #[aggregate_id]
    pub id: String,
    pub text: String,
}

/// Credits each amount as its own event.
#[derive(Command, Debug, Clone)]
#[command(aggregate = Ledger)]
pub struct CreditMany {
    #[aggregate_id]
    pub id: String,
    pub amounts: Vec<i64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum LedgerError {
    Insufficient { balance: i64, wanted: i64 },
}

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Insufficient { balance, wanted } => {
                write!(f, "balance {balance} cannot cover {wanted}")
            }
        }
    }
}

#[derive(Aggregate, Default, Debug, Clone, Serialize, Deserialize, PartialEq)]
#[aggregate(name = "test.Ledger", snapshot_every = 4)]
pub struct Ledger {
    pub owner: String,
    pub balance: i64,
    pub notes: Vec<String>,
    pub applied: u64,
}

#[aggregate_impl]
impl Ledger {
    #[command_handler(create)]
    fn open(&self, cmd: &Open) -> Opened {
        Opened {
            owner: cmd.owner.clone(),
        }
    }

    #[command_handler]
    fn credit(&self, cmd: Credit) -> Credited {
        Credited { amount: cmd.amount }
    }

    #[command_handler]
    fn debit(&self, cmd: &Debit, meta: &Metadata) -> Result<Debited, LedgerError> {
        // The actor header lets tests check metadata reaches handlers.
        if meta.actor.as_deref() == Some("auditor") {
            return Ok(Debited { amount: 0 });
        }
        if cmd.amount > self.balance {
            return Err(LedgerError::Insufficient {
                balance: self.balance,
                wanted: cmd.amount,
            });
        }
        Ok(Debited { amount: cmd.amount })
    }

    #[command_handler(create_if_missing)]
    fn note(&self, cmd: &Note) -> Option<Noted> {
        (!cmd.text.is_empty()).then(|| Noted {
            text: cmd.text.clone(),
        })
    }

    #[command_handler]
    fn credit_many(&self, cmd: &CreditMany) -> Vec<Credited> {
        cmd.amounts
            .iter()
            .map(|&amount| Credited { amount })
            .collect()
    }

    #[event_sourcing_handler]
    fn on_opened(&mut self, e: &Opened) {
        self.owner = e.owner.clone();
        self.applied += 1;
    }

    #[event_sourcing_handler]
    fn on_credited(&mut self, e: &Credited) {
        self.balance += e.amount;
        self.applied += 1;
    }

    #[event_sourcing_handler]
    fn on_debited(&mut self, e: &Debited) {
        self.balance -= e.amount;
        self.applied += 1;
    }

    #[event_sourcing_handler]
    fn on_noted(&mut self, e: &Noted) {
        self.notes.push(e.text.clone());
        self.applied += 1;
    }
}

pub fn open(id: &str) -> Open {
    Open {
        id: id.into(),
        owner: "owner".into(),
    }
}

pub fn credit(id: &str, amount: i64) -> Credit {
    Credit {
        id: id.into(),
        amount,
    }
}

pub fn debit(id: &str, amount: i64) -> Debit {
    Debit {
        id: id.into(),
        amount,
    }
}
