//! Workload 4: loading the 10,000-event account stream from PostgreSQL,
//! without and with a snapshot, against raw sqlx reading the same rows and
//! decoding them by hand.

use std::hint::black_box;

use chrono::Utc;
use eventsource::store::{EventStore, ExpectedVersion, Snapshot, SnapshotStore};
use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, Repository};
use eventsource_postgres::PgEventStore;
use futures::TryStreamExt;
use sqlx::{PgPool, Row as _};
use tokio::runtime::Runtime;

use super::Sql;
use crate::domain::Account;
use crate::domain::mix::{self, Schema, StoredEvent};
use crate::domain::plain::{self, PlainAccount};
use crate::measure::{Settings, compare, rate};
use crate::pg::{self, Db};
use crate::report::{Body, Row, Section};
use crate::workloads::stream::ACCOUNT;

pub(crate) const METHOD: &str = "The workload-1 account stream (10,000 events, all at the \
     current schema version) stored in PostgreSQL, loaded through `Repository::<Account>::load` \
     on a `PgEventStore`: without a snapshot store (all 10,000 events), and with the store as \
     snapshot store holding a snapshot at version 9,950 (the snapshot plus 50 events).";

/// Events in the stream.
pub(crate) const EVENTS: usize = 10_000;

/// The version of the snapshot.
pub(crate) const SNAPSHOT_AT: u64 = 9_950;

/// The stored stream.
pub(crate) struct Loaded {
    pub(crate) store: PgEventStore,
    pub(crate) events: Vec<StoredEvent>,
}

/// Stores the stream (in batches of 100) and a snapshot at [`SNAPSHOT_AT`].
pub(crate) async fn prepare(pool: &PgPool) -> Loaded {
    let store = pg::store(pool, "load", |o| o).await;
    let events = mix::events(EVENTS, Schema::Current);
    let stream = Account::stream_id(ACCOUNT);
    let mut version = None;
    for batch in events.chunks(100) {
        let command_id = Uuid::now_v7();
        let new = batch.iter().map(|e| e.to_new_event(command_id)).collect();
        let done = store
            .append(
                &stream,
                Account::NAME,
                ExpectedVersion::from_current(version),
                new,
            )
            .await
            .expect("the stream is stored");
        version = Some(done.last_version);
    }
    let repo = Repository::<Account>::new(store.clone()).expect("a valid registry");
    let at = repo
        .load_at_version(ACCOUNT, SNAPSHOT_AT)
        .await
        .expect("the stream loads")
        .expect("the account exists");
    let state = at
        .state
        .encode_snapshot()
        .expect("the account takes snapshots")
        .expect("the snapshot serializes");
    SnapshotStore::save(
        &store,
        Snapshot {
            stream_id: stream.into(),
            aggregate_type: Account::NAME.into(),
            version: SNAPSHOT_AT,
            revision: Account::SNAPSHOT_REVISION,
            state: state.into(),
            taken_at: Utc::now(),
        },
    )
    .await
    .expect("the snapshot is stored");
    pg::analyze(pool, store.schema(), &["events", "snapshots"]).await;
    Loaded { store, events }
}

/// The raw baseline's statements.
pub(crate) struct RawLoad {
    /// The whole stream.
    events: Sql,
    /// The events after a version: a statement of its own, so PostgreSQL
    /// plans it for a short tail, not for the whole stream.
    tail: Sql,
    snapshot: Sql,
}

impl RawLoad {
    pub(crate) fn new(schema: &str) -> Self {
        Self {
            events: Sql::new(format!(
                "SELECT stream_version, event_name, schema_version, payload::text \
                 FROM \"{schema}\".events WHERE stream_id = $1 AND stream_version > $2 \
                 ORDER BY stream_version"
            )),
            tail: Sql::new(format!(
                "SELECT stream_version, event_name, schema_version, payload::text \
                 FROM \"{schema}\".events WHERE stream_id = $1 AND stream_version > $2 \
                 ORDER BY stream_version LIMIT 1000000"
            )),
            snapshot: Sql::new(format!(
                "SELECT version, state::text FROM \"{schema}\".snapshots WHERE stream_id = $1"
            )),
        }
    }

    /// Streams the rows after `after`, decodes each by hand and applies it.
    async fn replay(&self, pool: &PgPool, stream: &str, state: &mut PlainAccount, after: i64) {
        let sql = if after == 0 { &self.events } else { &self.tail };
        let mut rows = sqlx::query(sql.get()).bind(stream).bind(after).fetch(pool);
        let mut expected = after;
        while let Some(row) = rows.try_next().await.expect("the rows read") {
            let version: i64 = row.get(0);
            assert_eq!(version, expected + 1, "the stream has no gaps");
            expected = version;
            let name: &str = row.get(1);
            let schema_version: i32 = row.get(2);
            let payload: &str = row.get(3);
            let event = plain::decode(name, schema_version as u32, payload).expect("it decodes");
            state.apply(&event);
        }
    }

    /// The whole stream.
    pub(crate) async fn load(&self, pool: &PgPool, stream: &str) -> PlainAccount {
        let mut state = PlainAccount::default();
        self.replay(pool, stream, &mut state, 0).await;
        state
    }

    /// The snapshot, then the events after it.
    pub(crate) async fn load_with_snapshot(&self, pool: &PgPool, stream: &str) -> PlainAccount {
        let row = sqlx::query(self.snapshot.get())
            .bind(stream)
            .fetch_one(pool)
            .await
            .expect("the snapshot exists");
        let version: i64 = row.get(0);
        let mut state: PlainAccount =
            serde_json::from_str(row.get::<&str, _>(1)).expect("the snapshot decodes");
        self.replay(pool, stream, &mut state, version).await;
        state
    }
}

/// The framework's state, as the baseline's.
pub(crate) fn plain_of(account: &Account) -> PlainAccount {
    PlainAccount {
        owner: account.owner.clone(),
        currency: account.currency.clone(),
        balance: account.balance,
        overdraft_limit: account.overdraft_limit,
        deposits: account.deposits,
        withdrawals: account.withdrawals,
        fees: account.fees,
    }
}

/// One load through `repo`, checked for the expected start.
pub(crate) async fn load_ours(repo: &Repository<Account>, snapshot: Option<u64>) -> Account {
    let loaded = repo
        .load(ACCOUNT)
        .await
        .expect("the stream loads")
        .expect("the account exists");
    debug_assert_eq!(loaded.snapshot_version, snapshot);
    loaded.state
}

pub(crate) fn run(rt: &Runtime, settings: &Settings, db: &Db) -> Section {
    let pool = rt.block_on(pg::pool(db, 4));
    let loaded = rt.block_on(prepare(&pool));
    let stream = Account::stream_id(ACCOUNT);
    let raw = RawLoad::new(loaded.store.schema());
    let plain_repo = Repository::<Account>::new(loaded.store.clone()).expect("a valid registry");
    let snap_repo = plain_repo.clone().with_snapshots(loaded.store.clone());
    let mut rows = Vec::new();

    let ours = rt.block_on(load_ours(&plain_repo, None));
    assert_eq!(plain_of(&ours), rt.block_on(raw.load(&pool, &stream)));
    let ours = rt.block_on(load_ours(&snap_repo, Some(SNAPSHOT_AT)));
    assert_eq!(
        plain_of(&ours),
        rt.block_on(raw.load_with_snapshot(&pool, &stream))
    );

    eprintln!("  no snapshot");
    let comparison = compare(
        settings.rounds,
        || {
            rate(settings.round_time, || {
                black_box(rt.block_on(load_ours(&plain_repo, None)));
                EVENTS as u64
            })
        },
        || {
            rate(settings.round_time, || {
                black_box(rt.block_on(raw.load(&pool, &stream)));
                EVENTS as u64
            })
        },
    );
    rows.push(Row::new(
        "10,000 events, no snapshot",
        "events/s",
        comparison,
    ));

    eprintln!("  with a snapshot");
    let comparison = compare(
        settings.rounds,
        || {
            rate(settings.round_time, || {
                black_box(rt.block_on(load_ours(&snap_repo, Some(SNAPSHOT_AT))));
                1
            })
        },
        || {
            rate(settings.round_time, || {
                black_box(rt.block_on(raw.load_with_snapshot(&pool, &stream)));
                1
            })
        },
    );
    rows.push(Row::new(
        "snapshot at 9,950 + 50 events",
        "loads/s",
        comparison,
    ));

    rt.block_on(async {
        pg::drop_schema(&pool, loaded.store.schema()).await;
        pool.close().await;
    });
    drop(loaded.events);
    Section {
        number: "4",
        title: "PostgreSQL load",
        method: METHOD.into(),
        body: Body::Measured {
            ours: "eventsource",
            baseline: "raw sqlx + hand-written serde_json + match".into(),
            rows,
            notes: vec![
                "Baseline: the same rows read with one streamed `SELECT stream_version, \
                 event_name, schema_version, payload::text … ORDER BY stream_version` (and, with \
                 a snapshot, one `SELECT` of the snapshot first, decoded with `serde_json`, and \
                 the tail read by a statement of its own, so that PostgreSQL plans it for 50 \
                 rows), each payload decoded with `serde_json` into hand-written structs and applied \
                 with a `match`, as in workload 1. No registry, no envelope."
                    .to_owned(),
                "What limits it: the store reads every column of the envelope (the load \
                 visits `RecordedEvent`s, as `read_stream` yields them), so per row it also \
                 transfers and converts the metadata (`jsonb` to text, then parsed into \
                 `Metadata`), the event id and the recording time, which the baseline does not \
                 select; and it reads in keyset pages of 5,000 rows (two queries for 10,000 \
                 events). With a snapshot both sides make two round trips; ours reads the \
                 snapshot and the events in pages as above."
                    .to_owned(),
            ],
        },
    }
}
