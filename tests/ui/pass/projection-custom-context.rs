//! A projection whose handlers write through a context `&mut Ledger`, run by
//! a hand-written `ProjectionBackend<Ledger>`: the context path end to end,
//! as a database backend uses it. Handlers take the context with or without
//! the metadata (in either order) or not at all; a failing handler rolls its
//! batch back; the `#[reset]` method clears the read model through the
//! context.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use eventsource::StoreError;
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::projection::{CommitError, ProjectionBackend, ProjectionTx, RunnerOptions};
use eventsource::uuid::Uuid;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "context.Deposited")]
struct Deposited {
    account: String,
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "context.Withdrawn")]
struct Withdrawn {
    account: String,
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "context.Audited")]
struct Audited {
    account: String,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "context.Noted")]
struct Noted {}

/// The committed "tables": balances, audit marks and checkpoints.
#[derive(Clone, Default)]
struct Database {
    tables: Arc<Mutex<Tables>>,
}

#[derive(Clone, Default)]
struct Tables {
    balances: BTreeMap<String, i64>,
    audits: Vec<(String, u64)>,
    checkpoints: BTreeMap<String, u64>,
    commits: u32,
}

impl Database {
    fn tables(&self) -> MutexGuard<'_, Tables> {
        self.tables.lock().unwrap()
    }
}

/// What handlers write through: a copy of the tables, committed whole or not at all.
struct Ledger {
    pending: Tables,
}

struct LedgerTx {
    db: Database,
    ledger: Ledger,
    reset: Option<String>,
}

#[async_trait::async_trait]
impl ProjectionBackend<Ledger> for Database {
    async fn begin(
        &self,
        _time_limit: std::time::Duration,
    ) -> Result<Box<dyn ProjectionTx<Ledger>>, StoreError> {
        let pending = self.tables().clone();
        Ok(Box::new(LedgerTx {
            db: self.clone(),
            ledger: Ledger { pending },
            reset: None,
        }))
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.tables().checkpoints.get(name).copied())
    }

    async fn acquire(&self, _: &str, _: Uuid, _: Duration) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn release(&self, _: &str, _: Uuid) -> Result<(), StoreError> {
        Ok(())
    }

    // One program, one version: nothing to record.
    async fn register(
        &self,
        _: &str,
        _: u32,
        events: &[String],
    ) -> Result<eventsource::projection::Registered, StoreError> {
        Ok(eventsource::projection::Registered {
            events: events.to_vec(),
            active: Some(1),
        })
    }

    async fn forget(&self, _: &str, _: u32) -> Result<(), StoreError> {
        Ok(())
    }

    async fn active_version(&self, _: &str) -> Result<Option<u32>, StoreError> {
        Ok(Some(1))
    }

    async fn activate(&self, _: &str, _: u32) -> Result<u32, StoreError> {
        Ok(1)
    }
}

#[async_trait::async_trait]
impl ProjectionTx<Ledger> for LedgerTx {
    fn context(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    async fn reset_checkpoint(&mut self, name: &str) -> Result<(), StoreError> {
        self.reset = Some(name.to_owned());
        Ok(())
    }

    async fn commit(
        self: Box<Self>,
        name: &str,
        _: Uuid,
        position: Option<u64>,
    ) -> Result<(), CommitError> {
        let mut tables = self.ledger.pending;
        if self.reset.as_deref() == Some(name) {
            tables.checkpoints.remove(name);
        }
        if let Some(position) = position {
            let checkpoint = tables.checkpoints.entry(name.to_owned()).or_default();
            *checkpoint = (*checkpoint).max(position);
        }
        tables.commits += 1;
        *self.db.tables() = tables;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// The balances read model: all its state is in the ledger.
struct Balances {
    noted: u32,
    resets: Arc<Mutex<u32>>,
}

#[projection(name = "context.balances")]
impl Balances {
    async fn on_deposited(&mut self, e: &Deposited, ledger: &mut Ledger) {
        *ledger
            .pending
            .balances
            .entry(e.account.clone())
            .or_default() += e.amount;
    }

    fn on_withdrawn(
        &mut self,
        e: &Withdrawn,
        meta: &RecordedEvent,
        ledger: &mut Ledger,
    ) -> Result<(), String> {
        let balance = ledger
            .pending
            .balances
            .entry(e.account.clone())
            .or_default();
        *balance -= e.amount;
        if *balance < 0 {
            return Err(format!(
                "{} overdrawn at v{}",
                e.account, meta.stream_version
            ));
        }
        Ok(())
    }

    async fn on_audited(&mut self, e: &Audited, ledger: &mut Ledger, meta: &RecordedEvent) {
        ledger
            .pending
            .audits
            .push((e.account.clone(), meta.global_position));
    }

    fn on_noted(&mut self, _: &Noted) {
        self.noted += 1;
    }

    #[reset]
    async fn clear(&mut self, ledger: &mut Ledger) -> Result<(), String> {
        ledger.pending.balances.clear();
        ledger.pending.audits.clear();
        *self.resets.lock().unwrap() += 1;
        Ok(())
    }
}

/// Where the echo projection writes: an unsized context.
trait Journal: Send {
    fn write(&mut self, line: String);
}

impl Journal for Vec<String> {
    fn write(&mut self, line: String) {
        self.push(line);
    }
}

/// A projection whose context is a trait object.
struct Echo;

#[projection(name = "context.echo")]
impl Echo {
    fn on_noted(&mut self, _: &Noted, journal: &mut (dyn Journal + Send)) {
        journal.write("noted".to_owned());
    }

    #[reset]
    fn clear(&mut self, journal: &mut (dyn Journal + Send)) {
        journal.write("cleared".to_owned());
    }
}

async fn append<E: Event>(store: &InMemoryStore, event: &E) -> u64 {
    store
        .append(
            "bank-1",
            "context.Bank",
            ExpectedVersion::Any,
            vec![NewEvent::from_event(event, Metadata::new()).unwrap()],
        )
        .await
        .unwrap()
        .last_position
}

#[tokio::main]
async fn main() {
    assert!(<Balances as Projection>::TRANSACTIONAL);
    assert!(<Balances as Projection>::RESETS);
    assert_eq!(
        <Balances as Projection>::EVENTS,
        [
            "context.Deposited",
            "context.Withdrawn",
            "context.Audited",
            "context.Noted",
        ]
    );

    let mut lines: Vec<String> = Vec::new();
    let noted = eventsource_tests::stored("context.Noted", 1, "{}");
    assert!(Echo.handle(&noted, &mut lines).await.unwrap());
    Echo.reset(&mut lines).await.unwrap();
    assert_eq!(lines, ["noted", "cleared"]);

    let store = InMemoryStore::new();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(RunnerOptions::default().with_max_retries(0));
    let db = Database::default();
    let resets = Arc::new(Mutex::new(0));
    let balances = Balances {
        noted: 0,
        resets: resets.clone(),
    };
    let deposit = |account: &str, amount| Deposited {
        account: account.into(),
        amount,
    };
    append(&store, &deposit("a", 10)).await;
    append(&store, &deposit("b", 5)).await;
    append(&store, &Noted {}).await;
    let audited = append(
        &store,
        &Audited {
            account: "a".into(),
        },
    )
    .await;
    // Rolled back with its batch: "b" is never overdrawn in the tables.
    append(
        &store,
        &Withdrawn {
            account: "b".into(),
            amount: 7,
        },
    )
    .await;
    let head = append(
        &store,
        &Withdrawn {
            account: "a".into(),
            amount: 4,
        },
    )
    .await;
    runner.start(balances, db.clone()).await.unwrap();
    let wait = Duration::from_secs(5);
    runner
        .wait_until("context.balances", head, wait)
        .await
        .unwrap();

    let expected_balances = BTreeMap::from([("a".to_owned(), 6), ("b".to_owned(), 5)]);
    {
        let tables = db.tables();
        assert_eq!(tables.balances, expected_balances);
        assert_eq!(tables.audits, [("a".to_owned(), audited)]);
        assert_eq!(tables.checkpoints["context.balances"], head);
    }
    let parked = runner.parked("context.balances").await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].error, "b overdrawn at v5");

    // The rebuild clears the tables through the context, then replays.
    runner.rebuild("context.balances", |_| {}).await.unwrap();
    runner
        .wait_until("context.balances", head, wait)
        .await
        .unwrap();
    assert_eq!(*resets.lock().unwrap(), 1);
    assert_eq!(db.tables().balances, expected_balances);
    assert_eq!(db.tables().audits.len(), 1);
    runner.shutdown().await;
}
