//! The two read models the simulation checks: account balances, kept in a
//! unit of work with the checkpoint (exactly once), and an audit trail of
//! deliveries with effects outside any unit (at least once).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::memory::InMemoryProjectionBackend;
use eventsource::projection::{
    CommitError, Projection, ProjectionBackend, ProjectionError, ProjectionTx, Registered,
};
use eventsource::{RecordedEvent, StoreError};
use serde::Deserialize;
use uuid::Uuid;

/// The events that move money, and the sign of each.
pub const MONEY_EVENTS: [(&str, i64); 5] = [
    ("sim.Deposited", 1),
    ("sim.Withdrawn", -1),
    ("sim.Debited", -1),
    ("sim.Credited", 1),
    ("sim.Refunded", 1),
];

/// The change `record` makes to its account's balance, if it moves money.
pub fn money_change(record: &RecordedEvent) -> Option<i64> {
    #[derive(Deserialize)]
    struct Amount {
        amount: i64,
    }
    let (_, sign) = MONEY_EVENTS
        .iter()
        .find(|(name, _)| **name == *record.event_name)?;
    // A payload the simulation wrote itself; one it cannot read moves nothing
    // and the fold of the log disagrees with the read model.
    let amount: Amount = serde_json::from_str(&record.payload).ok()?;
    Some(sign * amount.amount)
}

/// Balances by account, and the positions applied, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    /// Balance by account stream.
    pub balances: BTreeMap<String, i64>,
    /// The global position of every event applied, in the order applied.
    pub applied: Vec<u64>,
}

/// The changes a unit of work of the balances projection makes.
#[derive(Debug, Default)]
pub struct Staged {
    changes: Vec<(u64, String, i64)>,
}

/// The balances projection (transactional: its changes commit with its
/// checkpoint). One value per runner instance; they share the backend.
#[derive(Debug, Default)]
pub struct BalancesProjection;

#[async_trait]
impl Projection for BalancesProjection {
    const NAME: &'static str = "sim.balances";
    const EVENTS: &'static [&'static str] = &[
        "sim.Deposited",
        "sim.Withdrawn",
        "sim.Debited",
        "sim.Credited",
        "sim.Refunded",
    ];
    const TRANSACTIONAL: bool = true;
    const RESETS: bool = false;
    type Context = Staged;

    async fn handle(
        &mut self,
        record: &RecordedEvent,
        staged: &mut Staged,
    ) -> Result<bool, ProjectionError> {
        let Some(change) = money_change(record) else {
            return Err(ProjectionError::handler(format!(
                "event at {} moves no money",
                record.global_position
            )));
        };
        staged
            .changes
            .push((record.global_position, record.stream_id.to_string(), change));
        Ok(true)
    }

    async fn reset(&mut self, _: &mut Staged) -> Result<(), ProjectionError> {
        Err(ProjectionError::handler("the balances are never rebuilt"))
    }
}

/// Keeps [`Balances`] and commits them with the checkpoint, which (with
/// the lease) lives in an [`InMemoryProjectionBackend`]: the runtime's own
/// fencing guards the read model.
#[derive(Clone, Debug, Default)]
pub struct BalancesBackend {
    leases: InMemoryProjectionBackend,
    model: Arc<Mutex<Balances>>,
}

impl BalancesBackend {
    /// An empty read model, with leases timed by `leases`' clock.
    pub fn new(leases: InMemoryProjectionBackend) -> Self {
        Self {
            leases,
            model: Arc::default(),
        }
    }

    /// The read model as committed.
    pub fn balances(&self) -> Balances {
        lock(&self.model).clone()
    }

    /// Where checkpoints and leases are kept.
    pub fn leases(&self) -> &InMemoryProjectionBackend {
        &self.leases
    }
}

fn lock(model: &Mutex<Balances>) -> MutexGuard<'_, Balances> {
    model.lock().unwrap_or_else(PoisonError::into_inner)
}

#[async_trait]
impl ProjectionBackend<Staged> for BalancesBackend {
    async fn begin(
        &self,
        time_limit: Duration,
    ) -> Result<Box<dyn ProjectionTx<Staged>>, StoreError> {
        Ok(Box::new(BalancesTx {
            inner: self.leases.begin(time_limit).await?,
            staged: Staged::default(),
            model: self.model.clone(),
        }))
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.leases.checkpoint(name).await
    }

    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        self.leases.acquire(name, owner, ttl).await
    }

    async fn renew(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        self.leases.renew(name, owner, ttl).await
    }

    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
        self.leases.release(name, owner).await
    }

    async fn register(
        &self,
        name: &str,
        version: u32,
        events: &[String],
    ) -> Result<Registered, StoreError> {
        self.leases.register(name, version, events).await
    }

    async fn forget(&self, name: &str, version: u32) -> Result<(), StoreError> {
        self.leases.forget(name, version).await
    }

    async fn active_version(&self, name: &str) -> Result<Option<u32>, StoreError> {
        self.leases.active_version(name).await
    }

    async fn activate(&self, name: &str, version: u32) -> Result<u32, StoreError> {
        self.leases.activate(name, version).await
    }
}

struct BalancesTx {
    inner: Box<dyn ProjectionTx<()>>,
    staged: Staged,
    model: Arc<Mutex<Balances>>,
}

#[async_trait]
impl ProjectionTx<Staged> for BalancesTx {
    fn context(&mut self) -> &mut Staged {
        &mut self.staged
    }

    async fn reset_checkpoint(&mut self, name: &str) -> Result<(), StoreError> {
        self.inner.reset_checkpoint(name).await
    }

    async fn commit(
        self: Box<Self>,
        name: &str,
        owner: Uuid,
        position: Option<u64>,
    ) -> Result<(), CommitError> {
        let Self {
            inner,
            staged,
            model,
        } = *self;
        // The in-memory commit does not wait, so nothing runs between it
        // and the read model's change: the two are one unit.
        inner.commit(name, owner, position).await?;
        let mut model = lock(&model);
        for (position, account, change) in staged.changes {
            *model.balances.entry(account).or_default() += change;
            model.applied.push(position);
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.rollback().await
    }
}

/// Every delivery to the audit projection, by any instance: a side effect
/// outside any unit of work, such as a message sent.
#[derive(Clone, Debug, Default)]
pub struct Deliveries {
    positions: Arc<Mutex<Vec<u64>>>,
}

impl Deliveries {
    /// The positions delivered, in order, repeats included.
    pub fn positions(&self) -> Vec<u64> {
        self.positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The audit projection (not transactional): notes every event it is
/// handed, whatever happens to the unit of work.
#[derive(Clone, Debug, Default)]
pub struct AuditProjection {
    /// Where deliveries are noted.
    pub deliveries: Deliveries,
}

#[async_trait]
impl Projection for AuditProjection {
    const NAME: &'static str = "sim.audit";
    const EVENTS: &'static [&'static str] = &[
        "sim.Deposited",
        "sim.Withdrawn",
        "sim.Debited",
        "sim.Credited",
        "sim.Refunded",
        "sim.DebitRefused",
        "sim.CreditRefused",
        "sim.TransferStarted",
        "sim.TransferCompleted",
        "sim.TransferFailed",
        crate::sender::NOTED,
    ];
    const TRANSACTIONAL: bool = false;
    const RESETS: bool = false;
    type Context = ();

    async fn handle(
        &mut self,
        record: &RecordedEvent,
        _: &mut (),
    ) -> Result<bool, ProjectionError> {
        self.deliveries
            .positions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(record.global_position);
        Ok(true)
    }

    async fn reset(&mut self, _: &mut ()) -> Result<(), ProjectionError> {
        Err(ProjectionError::handler("the audit trail is never rebuilt"))
    }
}
