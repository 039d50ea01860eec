//! The stored event mix: which event sits at each stream version, as JSON.

use eventsource::uuid::Uuid;
use eventsource::{Metadata, NewEvent};
use serde_json::json;

use super::{AccountOpened, FeeCharged, FundsWithdrawn, MoneyDeposited, OverdraftLimitChanged};

/// Which schema versions the stored stream holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Schema {
    /// Every event at its current version.
    Current,
    /// The opening and every tenth event (a deposit) at version 1.
    TenPercentOld,
}

impl Schema {
    /// A short label for reports.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Current => "all events at the current version",
            Self::TenPercentOld => "10% of events at version 1 (upcast)",
        }
    }
}

/// One stored event: its name, schema version and JSON text.
#[derive(Clone, Debug)]
pub(crate) struct StoredEvent {
    /// The stored event name.
    pub(crate) name: &'static str,
    /// The schema version of `payload`.
    pub(crate) version: u32,
    /// The payload as JSON text.
    pub(crate) payload: String,
}

impl StoredEvent {
    fn of<E: eventsource::Event>(event: &E) -> Self {
        Self {
            name: E::NAME,
            version: E::VERSION,
            payload: serde_json::to_string(event).unwrap_or_default(),
        }
    }

    fn old(name: &'static str, payload: serde_json::Value) -> Self {
        Self {
            name,
            version: 1,
            payload: payload.to_string(),
        }
    }

    /// The event ready to append, with the correlation and causation ids a
    /// command would have given it.
    pub(crate) fn to_new_event(&self, command_id: Uuid) -> NewEvent {
        let metadata = Metadata::new()
            .with_correlation_id(command_id)
            .with_causation_id(command_id);
        NewEvent::new(self.name, self.version, self.payload.as_str(), metadata)
    }
}

/// The first `count` events of an account's stream: an opening, then half
/// deposits, three tenths withdrawals, a tenth fees and a tenth limit changes.
pub(crate) fn events(count: usize, schema: Schema) -> Vec<StoredEvent> {
    let old = schema == Schema::TenPercentOld;
    (0..count)
        .map(|i| {
            let amount = 100 + (i % 997) as i64;
            let reference = format!("INV-{i:06}");
            match (i, i % 10) {
                (0, _) if old => StoredEvent::old(
                    "bench.AccountOpened",
                    json!({ "owner": "Ada Lovelace", "currency": "EUR" }),
                ),
                (0, _) => StoredEvent::of(&AccountOpened {
                    owner: "Ada Lovelace".into(),
                    currency: "EUR".into(),
                    overdraft_limit: 50_000,
                }),
                (_, 0) if old => StoredEvent::old(
                    "bench.MoneyDeposited",
                    json!({ "amount": amount, "reference": reference }),
                ),
                (_, 0 | 1 | 3 | 5 | 8) => StoredEvent::of(&MoneyDeposited {
                    amount,
                    reference,
                    channel: "online".into(),
                }),
                (_, 2 | 6 | 9) => StoredEvent::of(&FundsWithdrawn { amount, reference }),
                (_, 4) => StoredEvent::of(&FeeCharged {
                    amount: 25,
                    reason: "monthly fee".into(),
                }),
                _ => StoredEvent::of(&OverdraftLimitChanged {
                    limit: 50_000 + amount,
                }),
            }
        })
        .collect()
}
