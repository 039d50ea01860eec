//! Growth: what a store full of events costs. Appends to a table already
//! holding 5,000,000 events against the same appends to an empty one;
//! loads of streams of 100, 10,000 and 100,000 events (among those five
//! million), with and without a snapshot, against raw reads; and a
//! catch-up of 1,000,000 events against raw reads.
//!
//! The stored events are written by the server itself (`INSERT … SELECT`
//! over `generate_series`, in transactions of 50,000 rows), in the rows
//! the store writes: positions from the transaction id, the account event
//! mix as payloads, metadata as a command's.

use std::cell::RefCell;
use std::time::Instant;

use eventsource::store::EventStore as _;
use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, Repository};
use eventsource_postgres::PgEventStore;
use sqlx::PgPool;
use tokio::runtime::Runtime;

use super::append::{BATCH, append_ours};
use super::catchup::{self, Work};
use super::load::{self, Columns, RawLoad};
use super::{INSERT_COLUMNS, Mix, Sql, metadata_text};
use crate::domain::Account;
use crate::domain::mix::{self, Schema, StoredEvent};
use crate::measure::{Comparison, Settings, compare, interleave, progress, quantile, rate};
use crate::pg::{self, Db};
use crate::report::{Body, Row, Section, Target};

/// Rows per seeding transaction: positions hold 65,536 per transaction.
const CHUNK: i64 = 50_000;

/// Events per account in the seeded tables.
const PER_ACCOUNT: usize = 100;

/// The sizes of a run: full, or shrunk for a smoke run.
struct Sizes {
    stored: i64,
    lengths: [usize; 3],
    catch_up: i64,
}

impl Sizes {
    fn of(settings: &Settings) -> Self {
        settings.scaled(
            Self {
                stored: 5_000_000,
                lengths: [100, 10_000, 100_000],
                catch_up: 1_000_000,
            },
            Self {
                stored: 200_000,
                lengths: [100, 1_000, 10_000],
                catch_up: 100_000,
            },
        )
    }
}

/// Writes `count` events into the store's table: accounts of
/// [`PER_ACCOUNT`] events of the mix, on streams `<Account>-<prefix><n>`.
async fn seed_accounts(pool: &PgPool, store: &PgEventStore, prefix: &str, count: i64) {
    let mix = mix::events(PER_ACCOUNT, Schema::Current);
    let names: Vec<&str> = mix.iter().map(|e| e.name).collect();
    let versions: Vec<i32> = mix.iter().map(|e| e.version as i32).collect();
    let payloads: Vec<&str> = mix.iter().map(|e| e.payload.as_str()).collect();
    let sql = Sql::new(format!(
        "INSERT INTO \"{}\".events ({INSERT_COLUMNS}) \
         SELECT pg_current_xact_id()::text::int8 * 65536 + (g - $1), pg_current_xact_id(), \
             $3 || (g / $4)::text, $5, g % $4 + 1, lpad(to_hex(g + $6), 32, '0')::uuid, \
             m.name, m.version, m.payload::json, $7::json \
         FROM generate_series($1::int8, $2::int8) AS g \
         JOIN unnest($8::text[], $9::int4[], $10::text[]) WITH ORDINALITY \
             AS m(name, version, payload, ord) ON m.ord = g % $4 + 1",
        store.schema()
    ));
    let stream_prefix = Account::stream_id(prefix);
    let metadata = metadata_text(Uuid::now_v7());
    // Event ids 1, 2, ...: far from any UUIDv7 an append makes.
    let id_offset = 1i64;
    let start = Instant::now();
    let mut first = 0;
    while first < count {
        let last = (first + CHUNK).min(count) - 1;
        sqlx::query(sql.get())
            .bind(first)
            .bind(last)
            .bind(&stream_prefix)
            .bind(PER_ACCOUNT as i64)
            .bind(Account::NAME)
            .bind(id_offset)
            .bind(&metadata)
            .bind(&names)
            .bind(&versions)
            .bind(&payloads)
            .execute(pool)
            .await
            .expect("the events are seeded");
        first = last + 1;
    }
    eprintln!(
        "    seeded {count} events in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

/// Writes `events` as the stream of the account `id`, 50,000 per transaction.
async fn seed_stream(pool: &PgPool, store: &PgEventStore, id: &str, events: &[StoredEvent]) {
    let sql = Sql::new(format!(
        "INSERT INTO \"{}\".events ({INSERT_COLUMNS}) \
         SELECT pg_current_xact_id()::text::int8 * 65536 + u.ord - 1, pg_current_xact_id(), \
             $1, $2, $3 + u.ord, gen_random_uuid(), u.name, u.version, u.payload::json, $4::json \
         FROM unnest($5::text[], $6::int4[], $7::text[]) WITH ORDINALITY \
             AS u(name, version, payload, ord)",
        store.schema()
    ));
    let metadata = metadata_text(Uuid::now_v7());
    for (i, chunk) in events.chunks(CHUNK as usize).enumerate() {
        let names: Vec<&str> = chunk.iter().map(|e| e.name).collect();
        let versions: Vec<i32> = chunk.iter().map(|e| e.version as i32).collect();
        let payloads: Vec<&str> = chunk.iter().map(|e| e.payload.as_str()).collect();
        sqlx::query(sql.get())
            .bind(Account::stream_id(id))
            .bind(Account::NAME)
            .bind(i as i64 * CHUNK)
            .bind(&metadata)
            .bind(&names)
            .bind(&versions)
            .bind(&payloads)
            .execute(pool)
            .await
            .expect("the stream is seeded");
    }
}

/// The id of the account whose stream has `length` events.
fn long_id(length: usize) -> String {
    format!("long-{length}")
}

/// Single events from one task, each appended alone: events per second,
/// and each append's latency in milliseconds pushed to `latencies`.
fn singles(
    rt: &Runtime,
    settings: &Settings,
    store: &PgEventStore,
    mix: &Mix,
    stream: &str,
    version: &mut u64,
    latencies: &RefCell<Vec<f64>>,
) -> f64 {
    let mut round = Vec::new();
    let rate = rate(settings.round_time, || {
        let start = Instant::now();
        rt.block_on(append_ours(store, mix, stream, *version, 1, *version));
        round.push(start.elapsed().as_secs_f64() * 1_000.0);
        *version += 1;
        1
    });
    latencies.borrow_mut().push(quantile(&mut round, 0.99));
    rate
}

/// Appends to the full table against the empty one.
fn appends(
    rt: &Runtime,
    settings: &Settings,
    full: &PgEventStore,
    empty: &PgEventStore,
) -> Vec<Row> {
    let mix = Mix::new();
    let mut rows = Vec::new();
    let stream = Account::stream_id("growth-batch");
    let (mut full_version, mut empty_version) = (0u64, 0u64);
    eprintln!("  appends, batches of 100");
    let comparison = compare(
        settings.rounds,
        || {
            rate(settings.round_time, || {
                rt.block_on(append_ours(
                    full,
                    &mix,
                    &stream,
                    full_version,
                    BATCH,
                    full_version,
                ));
                full_version += BATCH as u64;
                BATCH as u64
            })
        },
        || {
            rate(settings.round_time, || {
                rt.block_on(append_ours(
                    empty,
                    &mix,
                    &stream,
                    empty_version,
                    BATCH,
                    empty_version,
                ));
                empty_version += BATCH as u64;
                BATCH as u64
            })
        },
    );
    rows.push(Row::new(
        "append, batches of 100, one task: throughput",
        "events/s",
        comparison,
    ));

    eprintln!("  appends, single events");
    let stream = Account::stream_id("growth-single");
    let (mut full_version, mut empty_version) = (0u64, 0u64);
    let (full_p99, empty_p99) = (RefCell::new(Vec::new()), RefCell::new(Vec::new()));
    let samples = interleave(
        settings.rounds,
        &mut [
            &mut || {
                singles(
                    rt,
                    settings,
                    full,
                    &mix,
                    &stream,
                    &mut full_version,
                    &full_p99,
                )
            },
            &mut || {
                singles(
                    rt,
                    settings,
                    empty,
                    &mix,
                    &stream,
                    &mut empty_version,
                    &empty_p99,
                )
            },
        ],
    );
    let throughput = Comparison::of(&samples[0], &samples[1]);
    progress(&throughput);
    rows.push(Row::new(
        "append, single events, one task: throughput",
        "events/s",
        throughput,
    ));
    // The warm-up call's latencies are left out, as its rate is.
    let (full_p99, empty_p99) = (full_p99.into_inner(), empty_p99.into_inner());
    let latency = Comparison::of(&full_p99[1..], &empty_p99[1..]);
    progress(&latency);
    rows.push(Row::new(
        "append, single events, one task: p99 latency per round (lower is better: a ratio \
         above 1 is slower with the stored events)",
        "ms",
        latency,
    ));
    rows
}

/// Loads of the long streams, and the catch-up, against raw reads.
fn reads(
    rt: &Runtime,
    settings: &Settings,
    pool: &PgPool,
    full: &PgEventStore,
    catch_up: &PgEventStore,
    sizes: &Sizes,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let raw = RawLoad::new(full.schema());
    let plain = Repository::<Account>::new(full.clone()).expect("a valid registry");
    let snap = plain.clone().with_snapshots(full.clone());
    for length in sizes.lengths {
        let id = long_id(length);
        let stream = Account::stream_id(&id);
        let rounds = if length >= 100_000 {
            settings.long_rounds
        } else {
            settings.rounds
        };
        for snapshot in [None, Some(length as u64 - 50)] {
            eprintln!("  load, {length} events, snapshot {snapshot:?}");
            let repo = if snapshot.is_some() { &snap } else { &plain };
            let comparisons =
                load::compare_loads(rt, rounds, settings, pool, &raw, repo, &stream, snapshot, 1);
            for (columns, comparison) in Columns::BOTH.into_iter().zip(comparisons) {
                let start = match snapshot {
                    None => "no snapshot".to_owned(),
                    Some(at) => format!("snapshot at {} + 50 events", thousands(at)),
                };
                rows.push(Row::new(
                    format!(
                        "load, stream of {} events, {start} ({})",
                        thousands(length as u64),
                        columns.label()
                    ),
                    "loads/s",
                    comparison,
                ));
            }
        }
    }

    eprintln!("  catch-up, {} events", sizes.catch_up);
    let select = catchup::raw_select(catch_up.schema());
    let comparisons = catchup::compare_catch_up(
        rt,
        settings.long_rounds,
        catch_up,
        pool,
        &select,
        sizes.catch_up as u64,
        500,
    );
    for (work, comparison) in Work::BOTH.into_iter().zip(comparisons) {
        let row = Row::new(
            format!(
                "catch-up, {} events, `RunnerOptions::batch_size` 500, store page size 5000 ({})",
                thousands(sizes.catch_up as u64),
                work.label()
            ),
            "events/s",
            comparison,
        );
        rows.push(if work == Work::Same {
            row.target(Target::AtLeast(0.9))
        } else {
            row
        });
    }
    rows
}

fn thousands(n: u64) -> String {
    crate::report::grouped(n as f64)
}

/// Prepares the tables, measures, drops the tables; two sections.
pub(crate) fn run(rt: &Runtime, settings: &Settings, db: &Db) -> Vec<Section> {
    let sizes = Sizes::of(settings);
    let pool = rt.block_on(pg::pool(db, 4));
    eprintln!("  seeding {} events", sizes.stored);
    let full = rt.block_on(pg::store(&pool, "growth_full", |o| o));
    let empty = rt.block_on(pg::store(&pool, "growth_empty", |o| o));
    let catch_up = rt.block_on(pg::store(&pool, "growth_catchup", |o| o));
    rt.block_on(async {
        seed_accounts(&pool, &full, "acc-", sizes.stored).await;
        for length in sizes.lengths {
            let events = mix::events(length, Schema::Current);
            seed_stream(&pool, &full, &long_id(length), &events).await;
            load::save_snapshot(&full, &long_id(length), length as u64 - 50).await;
        }
        seed_accounts(&pool, &catch_up, "acc-", sizes.catch_up).await;
        pg::analyze(&pool, full.schema(), &["events", "snapshots"]).await;
        pg::analyze(&pool, catch_up.schema(), &["events"]).await;
        let head = catch_up.head_position().await.expect("the head position");
        assert!(head > 0, "the catch-up table is seeded");
    });

    let append_rows = appends(rt, settings, &full, &empty);
    let read_rows = reads(rt, settings, &pool, &full, &catch_up, &sizes);

    rt.block_on(async {
        for store in [&full, &empty, &catch_up] {
            pg::drop_schema(&pool, store.schema()).await;
        }
        pool.close().await;
    });
    let stored = thousands(sizes.stored as u64);
    vec![
        Section {
            number: "9",
            title: "Growth: appends to a full table",
            method: format!(
                "Appends through `EventStore::append` (with the expected version) to a table \
                 already holding {stored} events (accounts of 100 events of the mix, written \
                 by the server itself), against the same appends to an empty table of the same \
                 definition (which then holds only what the rounds append), interleaved. The \
                 ratio is full ÷ empty: 1 means the stored events cost nothing."
            ),
            body: Body::Measured {
                ours: "with the stored events",
                baseline: "empty table".into(),
                rows: append_rows,
                notes: vec![
                    "The p99 row takes the 99th percentile of each round's append latencies \
                     (one task, single events, each its own transaction and WAL flush) and \
                     compares them round by round like the rates."
                        .to_owned(),
                ],
            },
        },
        Section {
            number: "10",
            title: "Growth: long streams and a long catch-up",
            method: format!(
                "Streams of {} events of the account mix, stored among the {stored} events of \
                 workload 9's full table, loaded through `Repository::<Account>::load` without \
                 and with a snapshot 50 events before the end, against workload 4's two raw \
                 baselines; and a catch-up of {} events (accounts of 100) by workload 5's \
                 projection against its two raw baselines, the three sides interleaved.",
                sizes.lengths.map(|l| thousands(l as u64)).join(", "),
                thousands(sizes.catch_up as u64)
            ),
            body: Body::Measured {
                ours: "eventsource",
                baseline: "raw sqlx".into(),
                rows: read_rows,
                notes: vec![
                    "Loads are counted in loads per second (the time of one load is the \
                     inverse), so that the rows of one length compare across the three \
                     lengths. The streams of 100,000 events run fewer rounds (each load takes \
                     a large part of a second)."
                        .to_owned(),
                    "The catch-up's target is against the same-work baseline: payload and \
                     metadata parsed, balances updated, in one streamed `SELECT`."
                        .to_owned(),
                ],
            },
        },
    ]
}
