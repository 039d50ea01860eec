//! Workload 8: a second peer on PostgreSQL, `disintegrate-postgres` 4 (on
//! sqlx 0.8), on the workloads both can run: batched appends, single
//! appends from 16 writers, the load of a 10,000-event stream and a
//! catch-up, each interleaved with `eventsource` doing the same.
//!
//! disintegrate has no streams or aggregates: events carry domain ids
//! (`#[id]` fields, stored in columns of their own), a state is built from
//! the events a query selects, and an append states the id of the last
//! event its decision saw, checked under `SERIALIZABLE` isolation. The
//! account here is written as its users would write it: one event enum
//! with the account id as domain id, a `StateQuery` with `StateMutate`, and
//! an `EventListener` for the read model.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use disintegrate::serde::json::Json;
use disintegrate::{
    EventListener, EventSourcedStateStore, EventStore as _, LoadState as _, NoSnapshot,
    PersistedEvent, StateMutate, StateQuery, StreamQuery,
};
use disintegrate_postgres::{PgEventId, PgEventListener, PgEventListenerConfig};
use eventsource::store::EventStore as _;
use eventsource::{AggregateConfig, Repository};
use eventsource_postgres::PgEventStore;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

use super::postgres::their_pool;
use crate::domain::mix::{self, Schema, StoredEvent};
use crate::domain::{self, Account};
use crate::measure::{Settings, compare, rate};
use crate::pg::{self, Db};
use crate::report::{Body, Row, Section};
use crate::workloads::postgres::append::{BATCH, append_ours};
use crate::workloads::postgres::load::{self, EVENTS as LOAD_EVENTS};
use crate::workloads::postgres::{Mix, catchup, concurrent};
use crate::workloads::stream::ACCOUNT;

/// Concurrent writers.
const WRITERS: usize = 16;

/// The account's events, as disintegrate models them.
#[derive(Debug, Clone, PartialEq, Eq, disintegrate::Event, Serialize, Deserialize)]
#[stream(AccountEvent, [AccountOpened, MoneyDeposited, FundsWithdrawn, FeeCharged, OverdraftLimitChanged])]
pub(crate) enum BankEvent {
    /// An account was opened.
    AccountOpened {
        #[id]
        account_id: String,
        owner: String,
        currency: String,
        overdraft_limit: i64,
    },
    /// Money was paid in.
    MoneyDeposited {
        #[id]
        account_id: String,
        amount: i64,
        reference: String,
        channel: String,
    },
    /// Money was taken out.
    FundsWithdrawn {
        #[id]
        account_id: String,
        amount: i64,
        reference: String,
    },
    /// A fee.
    FeeCharged {
        #[id]
        account_id: String,
        amount: i64,
        reason: String,
    },
    /// A new overdraft limit.
    OverdraftLimitChanged {
        #[id]
        account_id: String,
        limit: i64,
    },
}

impl BankEvent {
    /// The mix's stored event for `account_id`, as this enum.
    fn of(event: &StoredEvent, account_id: &str) -> Self {
        let account_id = account_id.to_owned();
        match event.name {
            "bench.AccountOpened" => {
                let e: domain::AccountOpened = parse(event);
                Self::AccountOpened {
                    account_id,
                    owner: e.owner,
                    currency: e.currency,
                    overdraft_limit: e.overdraft_limit,
                }
            }
            "bench.MoneyDeposited" => {
                let e: domain::MoneyDeposited = parse(event);
                Self::MoneyDeposited {
                    account_id,
                    amount: e.amount,
                    reference: e.reference,
                    channel: e.channel,
                }
            }
            "bench.FundsWithdrawn" => {
                let e: domain::FundsWithdrawn = parse(event);
                Self::FundsWithdrawn {
                    account_id,
                    amount: e.amount,
                    reference: e.reference,
                }
            }
            "bench.FeeCharged" => {
                let e: domain::FeeCharged = parse(event);
                Self::FeeCharged {
                    account_id,
                    amount: e.amount,
                    reason: e.reason,
                }
            }
            _ => {
                let e: domain::OverdraftLimitChanged = parse(event);
                Self::OverdraftLimitChanged {
                    account_id,
                    limit: e.limit,
                }
            }
        }
    }
}

/// The mix's payload as one of our event structs.
fn parse<T: serde::de::DeserializeOwned>(event: &StoredEvent) -> T {
    serde_json::from_str(&event.payload)
        .unwrap_or_else(|e| panic!("the mix's {} does not parse: {e}", event.name))
}

/// The account's state, built from the account's events.
#[derive(
    Default, Debug, Clone, PartialEq, Eq, disintegrate::StateQuery, Serialize, Deserialize,
)]
#[state_query(AccountEvent)]
pub(crate) struct AccountState {
    #[id]
    account_id: String,
    owner: String,
    currency: String,
    balance: i64,
    overdraft_limit: i64,
    deposits: u64,
    withdrawals: u64,
    fees: i64,
}

impl AccountState {
    fn new(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            ..Self::default()
        }
    }
}

impl StateMutate for AccountState {
    fn mutate(&mut self, event: Self::Event) {
        match event {
            AccountEvent::AccountOpened {
                owner,
                currency,
                overdraft_limit,
                ..
            } => {
                self.owner = owner;
                self.currency = currency;
                self.overdraft_limit = overdraft_limit;
            }
            AccountEvent::MoneyDeposited { amount, .. } => {
                self.balance += amount;
                self.deposits += 1;
            }
            AccountEvent::FundsWithdrawn { amount, .. } => {
                self.balance -= amount;
                self.withdrawals += 1;
            }
            AccountEvent::FeeCharged { amount, .. } => {
                self.balance -= amount;
                self.fees += amount;
            }
            AccountEvent::OverdraftLimitChanged { limit, .. } => self.overdraft_limit = limit,
        }
    }
}

type TheirStore = disintegrate_postgres::PgEventStore<BankEvent, Json<BankEvent>>;

/// A store of theirs in a fresh schema of its own (its tables have fixed
/// names, found through `search_path`).
struct Theirs {
    schema: String,
    pool: sqlx08::PgPool,
    store: TheirStore,
}

impl Theirs {
    async fn new(db: &Db, ours: &sqlx::PgPool, tag: &str, size: u32) -> Self {
        let schema = pg::schema_name(tag);
        pg::execute(ours, format!("CREATE SCHEMA \"{schema}\"")).await;
        let pool = their_pool(db, size, Some(&schema)).await;
        let version: String = sqlx08::query_scalar("SELECT current_setting('server_version_num')")
            .fetch_one(&pool)
            .await
            .expect("the server's version");
        let before_16 = version.parse::<u32>().is_ok_and(|v| v < 160_000);
        let store = match TheirStore::try_new(pool.clone(), Json::default()).await {
            Ok(store) => store,
            // Its setup stops at the literal only PostgreSQL 16 reads; any
            // other failure shows in the statements that follow.
            Err(disintegrate_postgres::Error::Migration(_)) if before_16 => {
                finish_setup_before_16(&pool).await;
                TheirStore::new_uninitialized(pool.clone(), Json::default())
            }
            Err(error) => panic!("disintegrate sets up its tables: {error}"),
        };
        Self {
            schema,
            pool,
            store,
        }
    }

    /// Appends `events` to the account after the event `version`; returns
    /// the id of the last one. A serialization failure between writers of
    /// different accounts (which `SERIALIZABLE` may report) is retried, as
    /// a caller would; `retries` counts them.
    async fn append(
        &self,
        account_id: &str,
        events: Vec<BankEvent>,
        version: PgEventId,
        retries: &AtomicU64,
    ) -> PgEventId {
        let query: StreamQuery<PgEventId, AccountEvent> = AccountState::new(account_id).query();
        for _ in 0..100 {
            match self
                .store
                .append(events.clone(), query.clone(), version)
                .await
            {
                Ok(persisted) => return persisted.last().map_or(version, PersistedEvent::id),
                Err(error) if serialization_failure(&error) => {
                    retries.fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => panic!("disintegrate appends: {error}"),
            }
        }
        panic!("disintegrate: 100 serialization failures in a row")
    }

    /// Stores the first `count` events of the mix for each account, `per`
    /// at a time, without the version check (seeding).
    async fn seed(&self, accounts: &[String], count: usize, per: usize) {
        let events = mix::events(count, Schema::Current);
        for account in accounts {
            for chunk in events.chunks(per) {
                let batch = chunk.iter().map(|e| BankEvent::of(e, account)).collect();
                self.store
                    .append_without_validation(batch)
                    .await
                    .expect("disintegrate stores the events");
            }
        }
    }

    async fn load(&self, account_id: &str) -> AccountState {
        let state_store = EventSourcedStateStore::new(self.store.clone(), NoSnapshot);
        state_store
            .load(AccountState::new(account_id))
            .await
            .expect("disintegrate loads the state")
            .state()
            .clone()
    }

    async fn drop(self, ours: &sqlx::PgPool) {
        self.pool.close().await;
        pg::drop_schema(ours, &self.schema).await;
    }
}

/// Whether an append failed only because `SERIALIZABLE` refused it: at
/// commit (reported as a concurrency error) or earlier, in a statement
/// (reported as the database error 40001).
fn serialization_failure(error: &disintegrate_postgres::Error) -> bool {
    match error {
        disintegrate_postgres::Error::Concurrency => true,
        disintegrate_postgres::Error::Database(sqlx08::Error::Database(e)) => {
            e.code().as_deref() == Some("40001")
        }
        _ => false,
    }
}

/// Completes disintegrate's setup on PostgreSQL 15 and older.
///
/// Its setup stops at `event_store_begin_epoch`, whose body writes a mask
/// as a hexadecimal literal, which PostgreSQL reads only from version 16
/// on; the sequence, the table, its index and `event_store_current_epoch`
/// are in place by then. This creates that function with the mask in
/// decimal, taking the same three shared advisory locks that
/// `event_store_current_epoch` looks for (the database's oid with 0, then
/// 1 and 2 with the low and high halves of the sequence's last value), and
/// then what the setup would have done next: a column and a partial index
/// per domain id, as its documentation for `new_uninitialized` describes.
async fn finish_setup_before_16(pool: &sqlx08::PgPool) {
    let statements = [
        "CREATE OR REPLACE FUNCTION event_store_begin_epoch() RETURNS void \
         LANGUAGE plpgsql AS $$ \
         DECLARE \
             last_id bigint := (SELECT last_value FROM seq_event_event_id); \
             database_oid int := (SELECT oid FROM pg_database \
                 WHERE datname = current_database()); \
         BEGIN \
             PERFORM pg_try_advisory_xact_lock_shared(database_oid, 0); \
             PERFORM pg_try_advisory_xact_lock_shared(1, (last_id & 4294967295)::bit(32)::int); \
             PERFORM pg_try_advisory_xact_lock_shared(2, (last_id >> 32)::bit(32)::int); \
         END $$"
            .to_owned(),
    ];
    let columns = <BankEvent as disintegrate::Event>::SCHEMA
        .domain_ids
        .iter()
        .flat_map(|id| {
            let column = id.ident;
            let sql_type = match id.type_info {
                disintegrate::IdentifierType::String => "text",
                disintegrate::IdentifierType::i64 => "bigint",
                disintegrate::IdentifierType::Uuid => "uuid",
            };
            [
                format!("ALTER TABLE event ADD COLUMN IF NOT EXISTS {column} {sql_type}"),
                format!(
                    "CREATE INDEX IF NOT EXISTS idx_event_{column} ON event ({column}) \
                     WHERE {column} IS NOT NULL"
                ),
            ]
        });
    for sql in statements.into_iter().chain(columns) {
        sqlx08::query(&sql)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

/// Measures the four workloads.
pub(crate) fn run(rt: &Runtime, settings: &Settings, db: &Db) -> Section {
    let pool = rt.block_on(pg::pool(db, 20));
    let mix = Arc::new(Mix::new());
    let retries = Arc::new(AtomicU64::new(0));
    let mut rows = Vec::new();

    // Appends: batches of 100 from one task, single events from 16 writers.
    let ours = Arc::new(rt.block_on(pg::store(&pool, "dcb_ours", |o| {
        o.with_writer_connections(WRITERS as u32)
            .with_group_commit(1)
    })));
    let theirs = Arc::new(rt.block_on(Theirs::new(db, &pool, "dcb_append", 20)));
    {
        eprintln!("  disintegrate: append, batches of 100, one task");
        let stream = Account::stream_id("dcb-batch");
        let (mut version, mut their_version, mut n) = (0u64, 0 as PgEventId, 0u64);
        let comparison = compare(
            settings.rounds,
            || {
                rate(settings.round_time, || {
                    rt.block_on(append_ours(&ours, &mix, &stream, version, BATCH, version));
                    version += BATCH as u64;
                    BATCH as u64
                })
            },
            || {
                rate(settings.round_time, || {
                    let events = (0..BATCH as u64)
                        .map(|i| BankEvent::of(mix.get(n + i), "dcb-batch"))
                        .collect();
                    n += BATCH as u64;
                    their_version =
                        rt.block_on(theirs.append("dcb-batch", events, their_version, &retries));
                    BATCH as u64
                })
            },
        );
        rows.push(Row::new(
            "append, batches of 100, one task (`EventStore::append` with the expected version; \
             theirs `EventStore::append` with the account's query and last event id)",
            "events/s",
            comparison,
        ));
    }
    {
        eprintln!("  disintegrate: append, single events, {WRITERS} writers");
        let ours_writers = ours_writers(&ours, &mix);
        let their_writers = their_writers(&theirs, &mix, &retries);
        let comparison = compare(
            settings.rounds,
            || concurrent(rt, WRITERS, settings.round_time, &ours_writers),
            || concurrent(rt, WRITERS, settings.round_time, &their_writers),
        );
        rows.push(Row::new(
            format!(
                "append, single events, {WRITERS} writers on accounts of their own (ours with \
                 group commit)"
            ),
            "events/s",
            comparison,
        ));
    }
    rt.block_on(async {
        pg::drop_schema(&pool, ours.schema()).await;
    });
    if let Ok(theirs) = Arc::try_unwrap(theirs) {
        rt.block_on(theirs.drop(&pool));
    }

    // The load of the workload-4 stream.
    {
        eprintln!("  disintegrate: load, 10,000 events");
        let loaded = rt.block_on(load::prepare(&pool));
        let theirs = rt.block_on(Theirs::new(db, &pool, "dcb_load", 4));
        rt.block_on(theirs.seed(&[ACCOUNT.to_owned()], LOAD_EVENTS, 100));
        rt.block_on(pg::analyze(&pool, &theirs.schema, &["event"]));
        let repo = Repository::<Account>::new(loaded.store.clone()).expect("a valid registry");
        let ours_state = load::plain_of(&rt.block_on(load::load_ours(&repo, None)));
        let their_state = rt.block_on(theirs.load(ACCOUNT));
        assert_eq!(
            (ours_state.balance, ours_state.deposits, ours_state.fees),
            (their_state.balance, their_state.deposits, their_state.fees),
            "eventsource and disintegrate disagree"
        );
        let comparison = compare(
            settings.rounds,
            || {
                rate(settings.round_time, || {
                    black_box(rt.block_on(load::load_ours(&repo, None)));
                    LOAD_EVENTS as u64
                })
            },
            || {
                rate(settings.round_time, || {
                    black_box(rt.block_on(theirs.load(ACCOUNT)));
                    LOAD_EVENTS as u64
                })
            },
        );
        rows.push(Row::new(
            "load, 10,000 events, no snapshot (ours `Repository::load`; theirs the state \
             store's `load` of the account's `StateQuery`)",
            "events/s",
            comparison,
        ));
        rt.block_on(async {
            pg::drop_schema(&pool, loaded.store.schema()).await;
            theirs.drop(&pool).await;
        });
    }

    // Catch-up of the workload-5 events.
    {
        eprintln!("  disintegrate: catch-up, 200,000 events");
        let store = rt.block_on(catchup::prepare(&pool));
        let theirs = rt.block_on(Theirs::new(db, &pool, "dcb_catchup", 4));
        let accounts: Vec<String> = (0..catchup::ACCOUNTS).map(|a| format!("acc-{a}")).collect();
        rt.block_on(theirs.seed(&accounts, catchup::PER_ACCOUNT, catchup::PER_ACCOUNT));
        rt.block_on(pg::analyze(&pool, &theirs.schema, &["event"]));
        let head = rt
            .block_on(store.head_position())
            .expect("the head position");
        let comparison = compare(
            settings.rounds,
            || catchup::catch_up(rt, &store, head, catchup::EVENTS, 500),
            || their_catch_up(rt, &theirs, catchup::EVENTS),
        );
        rows.push(Row::new(
            "catch-up, 200,000 events into a map of balances (ours `ProjectionRunner`, batch \
             size 500, page size 5,000; theirs `PgEventListener`, polling)",
            "events/s",
            comparison,
        ));
        rt.block_on(async {
            pg::drop_schema(&pool, store.schema()).await;
            theirs.drop(&pool).await;
            pool.close().await;
        });
    }

    let retried = retries.load(Ordering::Relaxed);
    Section {
        number: "8",
        title: "Peer: disintegrate-postgres",
        method: "`disintegrate` 4 with `disintegrate-postgres` 4 (sqlx 0.8, JSON payloads \
                 through its `Json` serde), on the same server in a fresh schema of its own \
                 (its tables found through `search_path`), written as its users write it: one \
                 event enum with the account id as domain id (`#[id]`, a column and an index \
                 of its own), a `StateQuery` with `StateMutate` for the account, an \
                 `EventListener` for the read model. The workloads both can run, each \
                 interleaved with `eventsource` doing the same: appends (workload 3), the \
                 load of the workload-4 stream, the workload-5 catch-up. The ratio is ours ÷ \
                 theirs."
            .into(),
        body: Body::Measured {
            ours: "eventsource",
            baseline: "disintegrate-postgres 4".into(),
            rows,
            notes: vec![
                "disintegrate-postgres 4's own setup needs PostgreSQL 16 or later (one of its \
                 functions writes a hexadecimal literal); on an older server the harness lets \
                 its setup run up to that function, then creates the function with the \
                 literal in decimal (the same advisory locks) and the domain-id column and \
                 index the setup would have added."
                    .to_owned(),
                "Appends: theirs is `EventStore::append` with the account's query (its \
                 `StateQuery`'s) and the id of the last event appended, as a `DecisionMaker` \
                 persists a decision: a `SERIALIZABLE` transaction that registers the writer \
                 (`event_store_begin_epoch`, advisory locks that keep readers from passing \
                 an uncommitted event id), checks that no event of the query came after that \
                 id, and inserts the events with one multi-row `INSERT`. Under \
                 `SERIALIZABLE`, writers of different accounts can still fail with a \
                 serialization error; they are retried as a caller would."
                    .to_owned(),
                format!("Serialization failures retried in this run: {retried}."),
                "Loads: theirs selects the events whose `account_id` column matches, in event \
                 id order, up to the current epoch, and deserializes each `bytea` payload into \
                 the event enum (`Json`) before `StateMutate::mutate`; ours is workload 4's \
                 load without a snapshot."
                    .to_owned(),
                "Catch-up: the same 200,000 events (2,000 accounts of 100, stored through \
                 `append_without_validation` in batches of 100) read by a `PgEventListener` \
                 with one `EventListener` that updates a map of balances, started fresh (its \
                 `event_listener` row reset) each round and timed until it has handled every \
                 event. Its default fetch size reads everything in one query, inside one \
                 transaction that holds the listener's row."
                    .to_owned(),
            ],
        },
    }
}

/// Ours: single events from each writer to a stream of its own.
fn ours_writers(
    store: &Arc<PgEventStore>,
    mix: &Arc<Mix>,
) -> impl Fn(usize, Instant) -> BoxFuture<'static, u64> + use<> {
    let versions: Arc<Vec<AtomicU64>> = Arc::new((0..WRITERS).map(|_| AtomicU64::new(0)).collect());
    let store = store.clone();
    let mix = mix.clone();
    move |task, deadline| {
        let (store, mix, versions) = (store.clone(), mix.clone(), versions.clone());
        Box::pin(async move {
            let stream = Account::stream_id(&format!("dcb-w-{task}"));
            let start = versions[task].load(Ordering::Relaxed);
            let mut version = start;
            while Instant::now() < deadline {
                append_ours(&store, &mix, &stream, version, 1, version).await;
                version += 1;
            }
            versions[task].store(version, Ordering::Relaxed);
            version - start
        })
    }
}

/// Theirs: the same, each writer on an account of its own.
fn their_writers(
    theirs: &Arc<Theirs>,
    mix: &Arc<Mix>,
    retries: &Arc<AtomicU64>,
) -> impl Fn(usize, Instant) -> BoxFuture<'static, u64> + use<> {
    // Per writer: the last event id and how many events so far.
    let last: Arc<Vec<(AtomicU64, AtomicU64)>> = Arc::new(
        (0..WRITERS)
            .map(|_| (AtomicU64::new(0), AtomicU64::new(0)))
            .collect(),
    );
    let (theirs, mix, retries) = (theirs.clone(), mix.clone(), retries.clone());
    move |task, deadline| {
        let (theirs, mix, retries, last) =
            (theirs.clone(), mix.clone(), retries.clone(), last.clone());
        Box::pin(async move {
            let account = format!("dcb-w-{task}");
            let mut version = last[task].0.load(Ordering::Relaxed) as PgEventId;
            let start = last[task].1.load(Ordering::Relaxed);
            let mut n = start;
            while Instant::now() < deadline {
                let event = BankEvent::of(mix.get(n), &account);
                version = theirs
                    .append(&account, vec![event], version, &retries)
                    .await;
                n += 1;
            }
            last[task].0.store(version as u64, Ordering::Relaxed);
            last[task].1.store(n, Ordering::Relaxed);
            n - start
        })
    }
}

/// Their read model: balances per account, and how many events it handled.
struct Balances {
    query: StreamQuery<PgEventId, AccountEvent>,
    balances: Mutex<HashMap<String, i64>>,
    handled: Arc<AtomicU64>,
}

#[async_trait]
impl EventListener<PgEventId, AccountEvent> for Balances {
    type Error = std::convert::Infallible;

    fn id(&self) -> &'static str {
        "bench.balances"
    }

    fn query(&self) -> &StreamQuery<PgEventId, AccountEvent> {
        &self.query
    }

    async fn handle(
        &self,
        event: PersistedEvent<PgEventId, AccountEvent>,
    ) -> Result<(), Self::Error> {
        let (account, change) = match event.into_inner() {
            AccountEvent::AccountOpened { account_id, .. } => (account_id, 0),
            AccountEvent::MoneyDeposited {
                account_id, amount, ..
            } => (account_id, amount),
            AccountEvent::FundsWithdrawn {
                account_id, amount, ..
            }
            | AccountEvent::FeeCharged {
                account_id, amount, ..
            } => (account_id, -amount),
            AccountEvent::OverdraftLimitChanged { account_id, .. } => (account_id, 0),
        };
        if let Ok(mut balances) = self.balances.lock() {
            *balances.entry(account).or_default() += change;
        }
        self.handled.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// One catch-up by a fresh `PgEventListener`; events per second.
fn their_catch_up(rt: &Runtime, theirs: &Theirs, events: u64) -> f64 {
    rt.block_on(async {
        // Start from the first event: the listener keeps its position in a row.
        let reset = sqlx08::query("UPDATE event_listener SET last_processed_event_id = 0")
            .execute(&theirs.pool)
            .await;
        // The first round creates the table (and finds nothing to reset).
        if let Err(error) = reset {
            assert!(
                error.to_string().contains("does not exist"),
                "reset the listener: {error}"
            );
        }
        let handled = Arc::new(AtomicU64::new(0));
        let listener = Balances {
            query: disintegrate::query!(AccountEvent),
            balances: Mutex::new(HashMap::with_capacity(catchup::ACCOUNTS)),
            handled: handled.clone(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let start = Instant::now();
        let running = tokio::spawn(
            PgEventListener::builder(theirs.store.clone())
                .register_listener(
                    listener,
                    PgEventListenerConfig::poller(Duration::from_millis(50)),
                )
                .start_with_shutdown(async {
                    let _ = stopped.await;
                }),
        );
        let limit = Instant::now() + Duration::from_secs(300);
        while handled.load(Ordering::Relaxed) < events {
            assert!(
                Instant::now() < limit,
                "disintegrate did not catch up in 300 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let elapsed = start.elapsed();
        let _ = stop.send(());
        running
            .await
            .expect("the listener task")
            .expect("the listener stops cleanly");
        assert_eq!(
            handled.load(Ordering::Relaxed),
            events,
            "every event handled once"
        );
        events as f64 / elapsed.as_secs_f64()
    })
}
