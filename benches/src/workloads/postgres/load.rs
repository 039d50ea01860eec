//! Workload 4: loading the 10,000-event account stream from PostgreSQL,
//! without and with a snapshot, against raw sqlx reading the same rows and
//! decoding them by hand.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use eventsource::store::{EventStore, ExpectedVersion, Snapshot, SnapshotStore};
use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, Metadata, Repository};
use eventsource_postgres::PgEventStore;
use futures::TryStreamExt;
use sqlx::{PgPool, Row as _};
use tokio::runtime::Runtime;

use super::Sql;
use crate::domain::Account;
use crate::domain::mix::{self, Schema, StoredEvent};
use crate::domain::plain::{self, PlainAccount};
use crate::measure::{Comparison, Settings, compare_with, rate};
use crate::pg::{self, Db};
use crate::report::{Body, Row, Section, Target};
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
    save_snapshot(&store, ACCOUNT, SNAPSHOT_AT).await;
    pg::analyze(pool, store.schema(), &["events", "snapshots"]).await;
    Loaded { store, events }
}

/// Saves the account `id`'s state at `version` as its snapshot.
pub(crate) async fn save_snapshot(store: &PgEventStore, id: &str, version: u64) {
    let repo = Repository::<Account>::new(store.clone()).expect("a valid registry");
    let at = repo
        .load_at_version(id, version)
        .await
        .expect("the stream loads")
        .expect("the account exists");
    let state = at
        .state
        .encode_snapshot()
        .expect("the account takes snapshots")
        .expect("the snapshot serializes");
    SnapshotStore::save(
        store,
        Snapshot {
            stream_id: Account::stream_id(id).into(),
            aggregate_type: Account::NAME.into(),
            version,
            revision: Account::SNAPSHOT_REVISION,
            state: state.into(),
            taken_at: Utc::now(),
        },
    )
    .await
    .expect("the snapshot is stored");
}

/// What a raw baseline reads of each event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Columns {
    /// The four columns a load needs: version, name, schema version and
    /// payload: the physical limit.
    Lean,
    /// The ten columns of a full record (what `read_stream` selects), each
    /// converted as the store does (the metadata parsed into `Metadata`):
    /// the work a load did before it read the replay's fields only.
    Same,
}

impl Columns {
    /// Both, the same-work baseline first.
    pub(crate) const BOTH: [Columns; 2] = [Columns::Same, Columns::Lean];

    /// How a report row names the baseline.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Lean => "raw: the 4 columns a load needs: version, name, schema version, payload",
            Self::Same => "raw: a full record's 10 columns, metadata parsed",
        }
    }
}

/// The raw baseline's statements.
pub(crate) struct RawLoad {
    /// The whole stream, lean and same-work.
    events: [Sql; 2],
    /// The events after a version: statements of their own, so PostgreSQL
    /// plans them for a short tail, not for the whole stream.
    tail: [Sql; 2],
    snapshot: Sql,
}

/// The columns the store selects, in its order.
const SAME_COLUMNS: &str = "global_position, stream_id, aggregate_type, stream_version, \
     event_id, event_name, schema_version, payload::text, metadata::text, recorded_at";

impl RawLoad {
    pub(crate) fn new(schema: &str) -> Self {
        let select = |columns: &str, limit: &str| {
            Sql::new(format!(
                "SELECT {columns} FROM \"{schema}\".events \
                 WHERE stream_id = $1 AND stream_version > $2 ORDER BY stream_version{limit}"
            ))
        };
        let lean = "stream_version, event_name, schema_version, payload::text";
        Self {
            events: [select(lean, ""), select(SAME_COLUMNS, "")],
            tail: [
                select(lean, " LIMIT 1000000"),
                select(SAME_COLUMNS, " LIMIT 1000000"),
            ],
            snapshot: Sql::new(format!(
                "SELECT version, state::text FROM \"{schema}\".snapshots WHERE stream_id = $1"
            )),
        }
    }

    /// Streams the rows after `after`, decodes each by hand and applies it.
    async fn replay(
        &self,
        pool: &PgPool,
        stream: &str,
        state: &mut PlainAccount,
        after: i64,
        columns: Columns,
    ) {
        let at = usize::from(columns == Columns::Same);
        let sql = if after == 0 {
            &self.events[at]
        } else {
            &self.tail[at]
        };
        let mut rows = sqlx::query(sql.get()).bind(stream).bind(after).fetch(pool);
        let mut expected = after;
        while let Some(row) = rows.try_next().await.expect("the rows read") {
            let (version, name, schema_version, payload): (i64, &str, i32, &str) = match columns {
                Columns::Lean => (row.get(0), row.get(1), row.get(2), row.get(3)),
                Columns::Same => {
                    black_box((
                        row.get::<i64, _>(0),
                        row.get::<&str, _>(1),
                        row.get::<&str, _>(2),
                        row.get::<Uuid, _>(4),
                        row.get::<DateTime<Utc>, _>(9),
                    ));
                    let metadata: Metadata =
                        serde_json::from_str(row.get(8)).expect("the metadata decodes");
                    black_box(metadata);
                    (row.get(3), row.get(5), row.get(6), row.get(7))
                }
            };
            assert_eq!(version, expected + 1, "the stream has no gaps");
            expected = version;
            let event = plain::decode(name, schema_version as u32, payload).expect("it decodes");
            state.apply(&event);
        }
    }

    /// The whole stream.
    pub(crate) async fn load(&self, pool: &PgPool, stream: &str, columns: Columns) -> PlainAccount {
        let mut state = PlainAccount::default();
        self.replay(pool, stream, &mut state, 0, columns).await;
        state
    }

    /// The snapshot, then the events after it.
    pub(crate) async fn load_with_snapshot(
        &self,
        pool: &PgPool,
        stream: &str,
        columns: Columns,
    ) -> PlainAccount {
        let row = sqlx::query(self.snapshot.get())
            .bind(stream)
            .fetch_one(pool)
            .await
            .expect("the snapshot exists");
        let version: i64 = row.get(0);
        let mut state: PlainAccount =
            serde_json::from_str(row.get::<&str, _>(1)).expect("the snapshot decodes");
        self.replay(pool, stream, &mut state, version, columns)
            .await;
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

/// Loads of `stream` through `repo` (expecting a snapshot at `snapshot`)
/// against both raw baselines ([`Columns::BOTH`], in that order), all three
/// interleaved in `rounds` rounds; `units` per load (events, or 1 to count
/// loads). Checks first that all three reach the same state.
#[allow(clippy::too_many_arguments)]
pub(crate) fn compare_loads(
    rt: &Runtime,
    rounds: usize,
    settings: &Settings,
    pool: &PgPool,
    raw: &RawLoad,
    repo: &Repository<Account>,
    stream: &str,
    snapshot: Option<u64>,
    units: u64,
) -> Vec<Comparison> {
    let id = stream
        .strip_prefix(&format!("{}-", Account::NAME))
        .expect("an account stream");
    let load_raw = |columns: Columns| match snapshot {
        None => rt.block_on(raw.load(pool, stream, columns)),
        Some(_) => rt.block_on(raw.load_with_snapshot(pool, stream, columns)),
    };
    let ours = plain_of(&rt.block_on(load_ours_id(repo, id, snapshot)));
    for columns in Columns::BOTH {
        assert_eq!(ours, load_raw(columns), "ours and the raw load disagree");
    }
    let mut ours = || {
        rate(settings.round_time, || {
            black_box(rt.block_on(load_ours_id(repo, id, snapshot)));
            units
        })
    };
    let mut same = || {
        rate(settings.round_time, || {
            black_box(load_raw(Columns::Same));
            units
        })
    };
    let mut lean = || {
        rate(settings.round_time, || {
            black_box(load_raw(Columns::Lean));
            units
        })
    };
    compare_with(rounds, &mut [&mut ours, &mut same, &mut lean])
}

/// One load of the account `id` through `repo`, checked for the expected start.
pub(crate) async fn load_ours_id(
    repo: &Repository<Account>,
    id: &str,
    snapshot: Option<u64>,
) -> Account {
    let loaded = repo
        .load(id)
        .await
        .expect("the stream loads")
        .expect("the account exists");
    debug_assert_eq!(loaded.snapshot_version, snapshot);
    loaded.state
}

/// One load of the workload's account through `repo`.
pub(crate) async fn load_ours(repo: &Repository<Account>, snapshot: Option<u64>) -> Account {
    load_ours_id(repo, ACCOUNT, snapshot).await
}

pub(crate) fn run(rt: &Runtime, settings: &Settings, db: &Db) -> Section {
    let pool = rt.block_on(pg::pool(db, 4));
    let loaded = rt.block_on(prepare(&pool));
    let stream = Account::stream_id(ACCOUNT);
    let raw = RawLoad::new(loaded.store.schema());
    let plain_repo = Repository::<Account>::new(loaded.store.clone()).expect("a valid registry");
    let snap_repo = plain_repo.clone().with_snapshots(loaded.store.clone());
    let mut rows = Vec::new();
    for snapshot in [None, Some(SNAPSHOT_AT)] {
        eprintln!("  snapshot {snapshot:?}");
        let repo = if snapshot.is_some() {
            &snap_repo
        } else {
            &plain_repo
        };
        let units = if snapshot.is_some() { 1 } else { EVENTS as u64 };
        let comparisons = compare_loads(
            rt,
            settings.rounds,
            settings,
            &pool,
            &raw,
            repo,
            &stream,
            snapshot,
            units,
        );
        for (columns, comparison) in Columns::BOTH.into_iter().zip(comparisons) {
            let row = match snapshot {
                None => Row::new(
                    format!("10,000 events, no snapshot ({})", columns.label()),
                    "events/s",
                    comparison,
                ),
                Some(_) => Row::new(
                    format!("snapshot at 9,950 + 50 events ({})", columns.label()),
                    "loads/s",
                    comparison,
                ),
            };
            // The lean read path's target: the physical limit, nearly.
            rows.push(if snapshot.is_none() && columns == Columns::Lean {
                row.target(Target::AtLeast(0.9))
            } else {
                row
            });
        }
    }

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
                "Baselines: the same rows read with one streamed `SELECT … ORDER BY \
                 stream_version` (and, with a snapshot, one `SELECT` of the snapshot first, \
                 decoded with `serde_json`, and the tail read by a statement of its own, so \
                 that PostgreSQL plans it for 50 rows), each payload decoded with `serde_json` \
                 into hand-written structs and applied with a `match`, as in workload 1. No \
                 registry, no envelope. The lean baseline selects the 4 columns a load needs \
                 (`stream_version, event_name, schema_version, payload::text`): the physical \
                 limit, which the target is set against. The same-work baseline selects the \
                 10 columns of a full record (what the store's `read_stream` selects), \
                 converts each to its Rust type and parses the metadata into `Metadata` as the \
                 store does for a full record: the work a load did when it read full records. \
                 All three sides run interleaved in the same rounds."
                    .to_owned(),
                "Ours: the repository asks the store for the fields a replay reads \
                 (`EventStore::visit_stream_with` with `RecordFields::REPLAY`), so the store \
                 selects five columns, the lean baseline's four and the global position (which \
                 names a record that does not decode), with one statement for the whole \
                 stream, and decodes them by position without sqlx's per-cell type check: no \
                 metadata, event id, aggregate type or recording time is selected, converted \
                 or parsed, hence ours above the same-work baseline. What limits it against the \
                 lean one: each payload is copied into the record the store lends (the \
                 baseline decodes from the row's bytes), and the framework's decode goes \
                 through the envelope and the generated event set. With a snapshot the store \
                 is its own snapshot store, so one statement returns the snapshot and the \
                 events after it (`EventStore::visit_stream_after_snapshot`): one round trip, \
                 where both baselines make two (the snapshot, then the tail)."
                    .to_owned(),
            ],
        },
    }
}
