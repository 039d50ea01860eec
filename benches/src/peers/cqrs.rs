//! The benchmark account on `cqrs-es`, loaded through its
//! `PersistedEventStore` from an in-memory event repository.
//!
//! `cqrs-es`'s own `MemStore` keeps typed events (nothing is decoded on load)
//! and prints a line on every load, so it does not measure what workload 1
//! measures. The repository here keeps each event's payload and metadata as
//! JSON text and parses them into `serde_json::Value`s on every read — what
//! `postgres-es` gets from sqlx for its `jsonb` columns — so `cqrs-es` does
//! its own work (upcasting, `from_value`, `apply`) on the same JSON.

use std::collections::HashMap;
use std::sync::RwLock;

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{
    PersistedEventRepository, PersistenceError, ReplayStream, SemanticVersionEventUpcaster,
    SerializedEvent, SerializedSnapshot,
};
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::mix::StoredEvent;

/// The account's state, as the framework's `Account` holds it.
#[derive(Default, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CqrsAccount {
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

/// The account's events in `cqrs-es`'s style: one enum, stored externally tagged.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub(crate) enum CqrsEvent {
    /// Opened (version 2).
    AccountOpened {
        /// Owner.
        owner: String,
        /// Currency.
        currency: String,
        /// Overdraft limit.
        overdraft_limit: i64,
    },
    /// Deposited (version 2).
    MoneyDeposited {
        /// Amount.
        amount: i64,
        /// Reference.
        reference: String,
        /// Channel.
        channel: String,
    },
    /// Withdrawn.
    FundsWithdrawn {
        /// Amount.
        amount: i64,
        /// Reference.
        reference: String,
    },
    /// A fee.
    FeeCharged {
        /// Amount.
        amount: i64,
        /// Reason.
        reason: String,
    },
    /// A new overdraft limit.
    OverdraftLimitChanged {
        /// The limit.
        limit: i64,
    },
}

impl DomainEvent for CqrsEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AccountOpened { .. } => "AccountOpened",
            Self::MoneyDeposited { .. } => "MoneyDeposited",
            Self::FundsWithdrawn { .. } => "FundsWithdrawn",
            Self::FeeCharged { .. } => "FeeCharged",
            Self::OverdraftLimitChanged { .. } => "OverdraftLimitChanged",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::AccountOpened { .. } | Self::MoneyDeposited { .. } => "2.0",
            _ => "1.0",
        }
        .to_owned()
    }
}

/// The account never refuses anything here: only loads are measured.
#[derive(Debug)]
pub(crate) struct CqrsError;

impl std::fmt::Display for CqrsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for CqrsError {}

impl Aggregate for CqrsAccount {
    const TYPE: &'static str = "bench.Account";
    type Command = ();
    type Event = CqrsEvent;
    type Error = CqrsError;
    type Services = ();

    async fn handle(
        &mut self,
        _command: (),
        _services: &(),
        _sink: &EventSink<Self>,
    ) -> Result<(), CqrsError> {
        Ok(())
    }

    fn apply(&mut self, event: CqrsEvent) {
        match event {
            CqrsEvent::AccountOpened {
                owner,
                currency,
                overdraft_limit,
            } => {
                self.owner = owner;
                self.currency = currency;
                self.overdraft_limit = overdraft_limit;
            }
            CqrsEvent::MoneyDeposited { amount, .. } => {
                self.balance += amount;
                self.deposits += 1;
            }
            CqrsEvent::FundsWithdrawn { amount, .. } => {
                self.balance -= amount;
                self.withdrawals += 1;
            }
            CqrsEvent::FeeCharged { amount, .. } => {
                self.balance -= amount;
                self.fees += amount;
            }
            CqrsEvent::OverdraftLimitChanged { limit } => self.overdraft_limit = limit,
        }
    }
}

/// The upcasters for the two events with a version 1, in `cqrs-es`'s form.
pub(crate) fn upcasters() -> Vec<Box<dyn cqrs_es::persist::EventUpcaster>> {
    let add = |variant: &'static str, field: &'static str, value: Value| {
        Box::new(move |mut payload: Value| {
            if let Some(fields) = payload.get_mut(variant).and_then(Value::as_object_mut) {
                fields.insert(field.to_owned(), value.clone());
            }
            payload
        })
    };
    vec![
        Box::new(SemanticVersionEventUpcaster::new(
            "AccountOpened",
            "2.0",
            add("AccountOpened", "overdraft_limit", 0.into()),
        )),
        Box::new(SemanticVersionEventUpcaster::new(
            "MoneyDeposited",
            "2.0",
            add("MoneyDeposited", "channel", "branch".into()),
        )),
    ]
}

/// One stored row: what `postgres-es` keeps in its `events` table.
#[derive(Clone, Debug)]
struct JsonRow {
    sequence: usize,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
}

/// An in-memory `PersistedEventRepository` holding JSON text (read-only here).
#[derive(Debug, Default)]
pub(crate) struct JsonRepository {
    streams: RwLock<HashMap<String, Vec<JsonRow>>>,
}

impl JsonRepository {
    /// A repository holding `events` as the stream of `aggregate_id`, in
    /// `cqrs-es`'s format: the payload wrapped in its variant's name, the
    /// version as `"N.0"`, the metadata as a string map.
    pub(crate) fn with_stream(aggregate_id: &str, events: &[StoredEvent]) -> Self {
        let rows = events
            .iter()
            .enumerate()
            .map(|(i, event)| {
                let variant = event.name.trim_start_matches("bench.");
                let payload: Value =
                    serde_json::from_str(&event.payload).expect("the mix is valid JSON");
                let metadata = serde_json::json!({
                    "correlation_id": "0196b8c4-8a5e-7c3e-9f1a-2b3c4d5e6f70",
                    "causation_id": "0196b8c4-8a5e-7c3e-9f1a-2b3c4d5e6f70",
                });
                JsonRow {
                    sequence: i + 1,
                    event_type: variant.to_owned(),
                    event_version: format!("{}.0", event.version),
                    payload: serde_json::json!({ variant: payload }).to_string(),
                    metadata: metadata.to_string(),
                }
            })
            .collect();
        Self {
            streams: RwLock::new(HashMap::from([(aggregate_id.to_owned(), rows)])),
        }
    }

    fn select<A: Aggregate>(
        &self,
        aggregate_id: &str,
        after: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        let streams = self.streams.read().expect("the lock is not poisoned");
        let rows = streams.get(aggregate_id).map_or(&[][..], Vec::as_slice);
        rows.iter()
            .filter(|row| row.sequence > after)
            .map(|row| {
                Ok(SerializedEvent::new(
                    aggregate_id.to_owned(),
                    row.sequence,
                    A::TYPE.to_owned(),
                    row.event_type.clone(),
                    row.event_version.clone(),
                    serde_json::from_str(&row.payload)?,
                    serde_json::from_str(&row.metadata)?,
                ))
            })
            .collect()
    }
}

fn read_only() -> PersistenceError {
    PersistenceError::UnknownError("the benchmark repository is read-only".into())
}

impl PersistedEventRepository for JsonRepository {
    async fn get_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select::<A>(aggregate_id, 0)
    }

    async fn get_last_events<A: Aggregate>(
        &self,
        aggregate_id: &str,
        last_sequence: usize,
    ) -> Result<Vec<SerializedEvent>, PersistenceError> {
        self.select::<A>(aggregate_id, last_sequence)
    }

    async fn get_snapshot<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<Option<SerializedSnapshot>, PersistenceError> {
        Ok(None)
    }

    async fn persist<A: Aggregate>(
        &self,
        _events: &[SerializedEvent],
        _snapshot_update: Option<(String, Value, usize)>,
    ) -> Result<(), PersistenceError> {
        Err(read_only())
    }

    async fn stream_events<A: Aggregate>(
        &self,
        _aggregate_id: &str,
    ) -> Result<ReplayStream, PersistenceError> {
        Err(read_only())
    }

    async fn stream_all_events<A: Aggregate>(&self) -> Result<ReplayStream, PersistenceError> {
        Err(read_only())
    }
}
