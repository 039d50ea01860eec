//! Workload 3: appends to PostgreSQL — single events from one task, batches
//! of 100, and 16 concurrent writers (appends and full commands) — against
//! the same rows inserted with raw sqlx into a table of the same definition.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;

use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, CommandBus};
use eventsource_postgres::PgEventStore;
use futures::future::BoxFuture;
use sqlx::PgPool;
use tokio::runtime::Runtime;

use super::group::RawGroup;
use super::{INSERT_COLUMNS, Mix, RawEvent, Sql, concurrent};
use crate::domain::{Account, Deposit, OpenAccount};
use crate::measure::{Comparison, Settings, compare, rate};
use crate::pg::{self, Db};
use crate::report::{Body, Row, Section, Target};

pub(crate) const METHOD: &str = "Appends of the account event mix (JSON payloads of 1–3 fields, \
     correlation and causation ids in the metadata) to a `PgEventStore`: single events from one \
     task, batches of 100 from one task, and single events from 16 and 64 concurrent writers on \
     distinct streams — appended with `EventStore::append`, and as full commands through \
     `CommandBus::dispatch` (load with snapshot, decide, append, snapshot every 100 events). \
     Every append states the expected version. Baseline: the same rows inserted with raw sqlx \
     into a second schema migrated by the store, so the table, its constraints and its five \
     indexes are the same; for many writers with group commit, a hand-written group commit.";

/// Events per batch.
pub(crate) const BATCH: usize = 100;

/// Concurrent writers (the group-commit rows also run 64).
const WRITERS: usize = 16;

/// Connections the store keeps for its appends in the many-writer rows.
const WRITER_CONNECTIONS: u32 = 16;

/// Shared append statements running at once in the group-commit rows
/// (`PgStoreOptions::with_group_commit`): the setting the store's docs
/// recommend for many writers. `EVENTSOURCE_BENCH_RUNNERS` overrides it,
/// for profiling.
const RUNNERS: u32 = 2;

/// [`RUNNERS`], or `EVENTSOURCE_BENCH_RUNNERS` when it is set to a number.
fn runners() -> u32 {
    std::env::var("EVENTSOURCE_BENCH_RUNNERS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(RUNNERS)
}

/// Connections: one per writer and a few spare.
const POOL: u32 = 20;

/// Single-event appends per timed iteration from one task.
const SINGLES: u64 = 10;

/// The raw baselines' statements, for the table under `schema`.
#[derive(Clone)]
pub(crate) struct Raw {
    pool: PgPool,
    single: Sql,
    unnest: Sql,
    copy: Sql,
    /// Raw positions: a client-side counter, as one would for a plain table.
    pub(crate) position: Arc<AtomicI64>,
}

impl Raw {
    pub(crate) fn new(pool: &PgPool, schema: &str) -> Self {
        let table = format!("\"{schema}\".events");
        Self {
            pool: pool.clone(),
            single: Sql::new(format!(
                "INSERT INTO {table} ({INSERT_COLUMNS}) VALUES \
                 ($1, pg_current_xact_id(), $2, $3, $4, $5, $6, $7, $8::json, $9::json)"
            )),
            unnest: Sql::new(format!(
                "INSERT INTO {table} ({INSERT_COLUMNS}) \
                 SELECT $1::int8 + u.ord, pg_current_xact_id(), $2::text, $3::text, \
                     $4::int8 + u.ord, u.event_id, u.event_name, u.schema_version, \
                     u.payload::json, u.metadata::json \
                 FROM unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[]) \
                     WITH ORDINALITY AS u(event_id, event_name, schema_version, payload, metadata, ord)"
            )),
            copy: Sql::new(format!(
                "COPY {table} ({INSERT_COLUMNS}) FROM STDIN (FORMAT binary)"
            )),
            position: Arc::new(AtomicI64::new(0)),
        }
    }

    fn positions(&self, count: usize) -> i64 {
        self.position.fetch_add(count as i64, Ordering::Relaxed)
    }

    /// One single-row `INSERT` (its own transaction).
    pub(crate) async fn insert_one(&self, stream: &str, version: i64, event: &RawEvent<'_>) {
        self.insert_one_on(&self.pool, stream, version, event).await;
    }

    /// [`Raw::insert_one`] on a connection of the caller's.
    pub(crate) async fn insert_one_on<'e>(
        &self,
        on: impl sqlx::PgExecutor<'e>,
        stream: &str,
        version: i64,
        event: &RawEvent<'_>,
    ) {
        let position = self.positions(1) + 1;
        sqlx::query(self.single.get())
            .bind(position)
            .bind(stream)
            .bind(Account::NAME)
            .bind(version)
            .bind(event.id)
            .bind(event.name)
            .bind(event.version)
            .bind(event.payload)
            .bind(&event.metadata)
            .execute(on)
            .await
            .expect("the raw insert succeeds");
    }

    /// One multi-row `INSERT … SELECT FROM unnest(…)` (one statement).
    pub(crate) async fn insert_unnest(&self, stream: &str, after: i64, events: &[RawEvent<'_>]) {
        let base = self.positions(events.len());
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let names: Vec<&str> = events.iter().map(|e| e.name).collect();
        let versions: Vec<i32> = events.iter().map(|e| e.version).collect();
        let payloads: Vec<&str> = events.iter().map(|e| e.payload).collect();
        let metadata: Vec<&str> = events.iter().map(|e| e.metadata.as_str()).collect();
        sqlx::query(self.unnest.get())
            .bind(base)
            .bind(stream)
            .bind(Account::NAME)
            .bind(after)
            .bind(&ids)
            .bind(&names)
            .bind(&versions)
            .bind(&payloads)
            .bind(&metadata)
            .execute(&self.pool)
            .await
            .expect("the raw insert succeeds");
    }

    /// One binary `COPY … FROM STDIN` (its own transaction).
    pub(crate) async fn insert_copy(&self, stream: &str, after: i64, events: &[RawEvent<'_>]) {
        let base = self.positions(events.len());
        let data = copy_data(base, stream, after, events);
        let mut conn = self.pool.acquire().await.expect("a connection");
        let mut copy = conn
            .copy_in_raw(self.copy.text())
            .await
            .expect("COPY starts");
        copy.send(data).await.expect("COPY data is sent");
        copy.finish().await.expect("COPY completes");
    }
}

/// The rows in PostgreSQL's binary `COPY` format. The `xid8` column gets
/// the position (any 8-byte value stores alike; the server's own
/// transaction id is not available to `COPY` data).
fn copy_data(base: i64, stream: &str, after: i64, events: &[RawEvent<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + events.len() * 400);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    let field = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    for (i, event) in events.iter().enumerate() {
        let n = i as i64 + 1;
        out.extend_from_slice(&10i16.to_be_bytes());
        field(&mut out, &(base + n).to_be_bytes());
        field(&mut out, &(base + n).to_be_bytes());
        field(&mut out, stream.as_bytes());
        field(&mut out, Account::NAME.as_bytes());
        field(&mut out, &(after + n).to_be_bytes());
        field(&mut out, event.id.as_bytes());
        field(&mut out, event.name.as_bytes());
        field(&mut out, &event.version.to_be_bytes());
        // `json`'s binary form is its text.
        field(&mut out, event.payload.as_bytes());
        field(&mut out, event.metadata.as_bytes());
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// Appends `count` events of the mix to `stream` in one call, expecting `version`.
pub(crate) async fn append_ours(
    store: &PgEventStore,
    mix: &Mix,
    stream: &str,
    version: u64,
    count: usize,
    n: u64,
) {
    let command_id = Uuid::now_v7();
    let events = (0..count as u64)
        .map(|i| mix.new_event(n + i, command_id))
        .collect();
    let expected = ExpectedVersion::from_current((version > 0).then_some(version));
    store
        .append(stream, Account::NAME, expected, events)
        .await
        .expect("the append succeeds");
}

/// The same rows for the raw baselines.
pub(crate) fn raw_events(mix: &Mix, count: usize, n: u64) -> Vec<RawEvent<'_>> {
    let command_id = Uuid::now_v7();
    (0..count as u64)
        .map(|i| mix.raw(n + i, command_id))
        .collect()
}

/// Measures the cases (those `EVENTSOURCE_BENCH_CASES` selects: `single`,
/// `batch`, `copy`, `group`, `writers`, `writers-alone`, `commands`,
/// `cached-commands`).
pub(crate) fn run(rt: &Runtime, settings: &Settings, db: &Db) -> Section {
    let pool = rt.block_on(pg::pool(db, POOL));
    let store = rt.block_on(pg::store(&pool, "append", |o| o));
    let raw_store = rt.block_on(pg::store(&pool, "append_raw", |o| o));
    let raw = Raw::new(&pool, raw_store.schema());
    let mix = Arc::new(Mix::new());
    let mut rows = Vec::new();
    let notes: Vec<String> = NOTES.iter().map(|n| (*n).to_owned()).collect();

    if pg::case_wanted("single") {
        eprintln!("  single events, one task");
        let stream = Account::stream_id("single");
        let (mut version, mut raw_version) = (0u64, 0i64);
        let comparison = compare(
            settings.rounds,
            || {
                rate(settings.round_time, || {
                    rt.block_on(async {
                        for _ in 0..SINGLES {
                            append_ours(&store, &mix, &stream, version, 1, version).await;
                            version += 1;
                        }
                    });
                    SINGLES
                })
            },
            || {
                rate(settings.round_time, || {
                    rt.block_on(async {
                        for _ in 0..SINGLES {
                            let event = mix.raw(raw_version as u64, Uuid::now_v7());
                            raw_version += 1;
                            raw.insert_one(&stream, raw_version, &event).await;
                        }
                    });
                    SINGLES
                })
            },
        );
        rows.push(
            Row::new(
                "single events, one task (raw: single-row `INSERT`)",
                "events/s",
                comparison,
            )
            .target(Target::AtLeast(0.95)),
        );
    }

    if pg::case_wanted("batch") {
        eprintln!("  batches of 100, one task");
        let comparison = batches(rt, settings, &store, &raw, &mix, "batch-unnest", false);
        rows.push(
            Row::new(
                "batches of 100, one task (raw: `INSERT … SELECT FROM unnest`)",
                "events/s",
                comparison,
            )
            .target(Target::AtLeast(0.95)),
        );
    }

    if pg::case_wanted("copy") {
        eprintln!("  batches of 100, one task, raw COPY");
        let comparison = batches(rt, settings, &store, &raw, &mix, "batch-copy", true);
        rows.push(Row::new(
            "batches of 100, one task (raw: binary `COPY`)",
            "events/s",
            comparison,
        ));
    }

    eprintln!("  many writers");
    rt.block_on(pg::drop_schema(&pool, store.schema()));
    // The writers keep their connections between appends, on both sides:
    // sqlx tests each connection handed back to its pool with a round trip.
    let runners = runners();
    eprintln!("  group commit with {runners} runner(s)");
    let store = Arc::new(rt.block_on(pg::store(&pool, "writers", |o| {
        o.with_writer_connections(WRITER_CONNECTIONS)
            .with_group_commit(runners)
    })));
    let plain = Arc::new(rt.block_on(pg::store(&pool, "writers_alone", |o| {
        o.with_writer_connections(WRITER_CONNECTIONS)
    })));
    let group = RawGroup::new(&pool, raw_store.schema(), mix.clone(), raw.position.clone());

    if pg::case_wanted("group") {
        for writers in [16, 64] {
            eprintln!("  {writers} writers, group commit against the raw group commit");
            let ours = ours_writers(&store, &mix, writers);
            let comparison = compare(
                settings.rounds,
                || concurrent(rt, writers, settings.round_time, &ours),
                || group.round(rt, writers, settings.round_time),
            );
            rows.push(
                Row::new(
                    format!(
                        "single events, {writers} writers, `EventStore::append` with group \
                         commit (raw: hand-written group commit, one multi-row `unnest` insert \
                         per drain)"
                    ),
                    "events/s",
                    comparison,
                )
                .target(Target::AtLeast(1.0)),
            );
        }
    }

    for (store, key, label) in [
        (
            &store,
            "writers",
            "single events, 16 writers, `EventStore::append` with group commit (raw: \
             single-row `INSERT`s, one connection per writer)",
        ),
        (
            &plain,
            "writers-alone",
            "single events, 16 writers, `EventStore::append` without group commit (raw: \
             single-row `INSERT`s, one connection per writer)",
        ),
    ] {
        if !pg::case_wanted(key) {
            continue;
        }
        eprintln!("  {key}");
        let ours = ours_writers(store, &mix, WRITERS);
        let baseline = raw_single(&raw, &mix, "raw-w");
        let comparison = compare(
            settings.rounds,
            || concurrent(rt, WRITERS, settings.round_time, &ours),
            || concurrent(rt, WRITERS, settings.round_time, &baseline),
        );
        rows.push(Row::new(label, "events/s", comparison));
    }
    for cached in [false, true] {
        if !pg::case_wanted(if cached {
            "cached-commands"
        } else {
            "commands"
        }) {
            continue;
        }
        eprintln!("  commands, {}", if cached { "cached" } else { "no cache" });
        let mut bus = CommandBus::new((*store).clone())
            .expect("a valid registry")
            .with_snapshots((*store).clone());
        if cached {
            bus = bus.with_cache::<Account>(1_000);
        }
        let bus = Arc::new(bus);
        let tag = if cached { "cached" } else { "cmd" };
        let ids: Arc<Vec<String>> = Arc::new((0..WRITERS).map(|i| format!("{tag}-{i}")).collect());
        rt.block_on(async {
            for id in ids.iter() {
                bus.dispatch(OpenAccount {
                    id: id.clone(),
                    owner: "Ada Lovelace".into(),
                    overdraft_limit: 10_000,
                })
                .await
                .expect("the account opens");
            }
        });
        let ours = {
            let bus = bus.clone();
            move |task: usize, deadline: Instant| {
                let bus = bus.clone();
                let id = ids[task].clone();
                async move {
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        done += 1;
                        bus.dispatch(Deposit {
                            id: id.clone(),
                            amount: 200,
                            reference: format!("ref-{done}"),
                        })
                        .await
                        .expect("the deposit is accepted");
                    }
                    done
                }
            }
        };
        let baseline = raw_single(&raw, &mix, if cached { "raw-cc" } else { "raw-c" });
        let comparison = compare(
            settings.rounds,
            || concurrent(rt, WRITERS, settings.round_time, &ours),
            || concurrent(rt, WRITERS, settings.round_time, &baseline),
        );
        rows.push(if cached {
            Row::new(
                "single-event commands, 16 writers, `CommandBus::dispatch` with the aggregate \
                 cache, group commit (raw: single-row `INSERT`s, one connection per writer)",
                "events/s",
                comparison,
            )
            .target(Target::AtLeast(1.0))
        } else {
            Row::new(
                "single-event commands, 16 writers, `CommandBus::dispatch`, no cache, group \
                 commit (raw: single-row `INSERT`s, one connection per writer)",
                "events/s",
                comparison,
            )
            .target(Target::AtLeast(0.45))
        });
    }

    rt.block_on(async {
        pg::drop_schema(&pool, store.schema()).await;
        pg::drop_schema(&pool, plain.schema()).await;
        pg::drop_schema(&pool, raw_store.schema()).await;
        pool.close().await;
    });
    Section {
        number: "3",
        title: "PostgreSQL append",
        method: METHOD.into(),
        body: Body::Measured {
            ours: "eventsource",
            baseline: "raw sqlx".into(),
            rows,
            notes,
        },
    }
}

/// Batches of 100 from one task: ours against raw `unnest` or `COPY`.
fn batches(
    rt: &Runtime,
    settings: &Settings,
    store: &PgEventStore,
    raw: &Raw,
    mix: &Mix,
    tag: &str,
    copy: bool,
) -> Comparison {
    let stream = Account::stream_id(tag);
    let (mut version, mut raw_version) = (0u64, 0i64);
    compare(
        settings.rounds,
        || {
            rate(settings.round_time, || {
                rt.block_on(append_ours(store, mix, &stream, version, BATCH, version));
                version += BATCH as u64;
                BATCH as u64
            })
        },
        || {
            rate(settings.round_time, || {
                let events = raw_events(mix, BATCH, raw_version as u64);
                if copy {
                    rt.block_on(raw.insert_copy(&stream, raw_version, &events));
                } else {
                    rt.block_on(raw.insert_unnest(&stream, raw_version, &events));
                }
                raw_version += BATCH as i64;
                BATCH as u64
            })
        },
    )
}

/// `writers` tasks appending single events through `store`, each to a
/// stream of its own, continuing their streams from round to round.
fn ours_writers(
    store: &Arc<PgEventStore>,
    mix: &Arc<Mix>,
    writers: usize,
) -> impl Fn(usize, Instant) -> BoxFuture<'static, u64> + use<> {
    let versions: Arc<Vec<AtomicI64>> = Arc::new((0..writers).map(|_| AtomicI64::new(0)).collect());
    let store = store.clone();
    let mix = mix.clone();
    let run = Uuid::now_v7();
    move |task: usize, deadline: Instant| {
        let store = store.clone();
        let mix = mix.clone();
        let versions = versions.clone();
        Box::pin(async move {
            let stream = Account::stream_id(&format!("w-{run}-{task}"));
            let mut version = versions[task].load(Ordering::Relaxed) as u64;
            let start = version;
            while Instant::now() < deadline {
                append_ours(&store, &mix, &stream, version, 1, version).await;
                version += 1;
            }
            versions[task].store(version as i64, Ordering::Relaxed);
            version - start
        })
    }
}

/// Raw single-row inserts from a task on a connection of its own, each
/// round on fresh streams.
fn raw_single(
    raw: &Raw,
    mix: &Arc<Mix>,
    tag: &'static str,
) -> impl Fn(usize, Instant) -> BoxFuture<'static, u64> + use<> {
    let raw = raw.clone();
    let mix = mix.clone();
    move |task: usize, deadline: Instant| {
        let raw = raw.clone();
        let mix = mix.clone();
        Box::pin(async move {
            let stream = Account::stream_id(&format!("{tag}-{task}-{}", Uuid::now_v7()));
            let mut conn = raw.pool.acquire().await.expect("a connection");
            let mut version = 0;
            while Instant::now() < deadline {
                let event = mix.raw(version as u64, Uuid::now_v7());
                version += 1;
                raw.insert_one_on(&mut *conn, &stream, version, &event)
                    .await;
            }
            version as u64
        })
    }
}

const NOTES: &[&str] = &[
    "Baselines: the raw rows take their positions from a client-side counter and \
     `pg_current_xact_id()` for the transaction id; every statement is its own transaction, \
     committed as the server is configured (see `synchronous_commit` under Machine: when on, \
     each commit waits for its WAL flush), like the store's appends. The target for batches \
     applies to `INSERT … SELECT FROM unnest(…)`, the fastest raw way through sqlx. The \
     single-row many-writer baselines are `INSERT`s from 16 tasks on 16 streams, each task \
     on a connection of its own for the whole round, the fastest raw way for many writers \
     that each commit alone (see below); the group-commit rows have a hand-written group \
     commit as their baseline (see below). On the other side the store keeps 16 connections \
     for its appends (`PgStoreOptions::with_writer_connections(16)`) and, but for the row \
     that says otherwise, groups commits.",
    "Binary `COPY`: sqlx 0.9 leaves Nagle's algorithm on and sends `COPY`'s closing \
     `CopyDone` message on its own after the data, so over TCP each `COPY` used to wait for \
     the server's delayed acknowledgement, about 40 ms whatever its size (a tenth of \
     `unnest`'s rate); any statement longer than one segment waited the same way. Every \
     connection of this harness, ours, the baselines' and the peers', now turns on \
     `TCP_NODELAY` when it opens (`eventsource_postgres::tcp_nodelay`, which the store's own \
     pools run too), and the row runs over TCP like the others.",
    "Batches of 100: both sides send the batch as five parallel arrays in one statement and \
     commit once, and wait on the commit's WAL flush, so the machine is mostly idle during \
     these rounds (under `perf`, 46% of the samples idle) and what counts is the time each \
     step adds to a batch. The server: with `pg_stat_statements` on a server of its own and \
     the two statements prepared and executed alternately with the same 100-row arrays, 400 \
     times each, ours took 1.405 ms per batch to execute against the raw insert's 1.333 ms \
     (5% more: the head probe, the checks and the result row; rewriting it to return the \
     result from the checks rather than from the inserted rows changed nothing, 1.403 ms), \
     and planning happened only for the first executions of each. The client: under \
     callgrind, building our request took about 412,000 instructions per batch (every \
     payload checked to be JSON, every event's metadata serialized) where the raw baseline \
     spends about 190,000 serializing its rows' metadata; the request now serializes the metadata once for the \
     events of a batch that share it and checks a payload by skipping over it when it holds \
     nothing a skip leaves unchecked (no `\\u` escape, no exponent, no long number, no deep \
     nesting), which brought it to about 180,000. Not the protocol: `strace` shows sqlx \
     sending the same messages for both (bind, execute, close and sync in one write, and a \
     sync of its own when the connection goes back to the pool). Not the `NOTIFY` the store \
     sends after appends (at most one per 5 ms, committed without waiting for the disk): \
     with `pg_stat_wal`, 100-row inserts made 1.01 and 1.02 WAL flushes per batch alone and \
     1.03 and 1.02 beside a session notifying every 5 ms. What remains is the server's 5% \
     and the spread of this shared disk, whose flush time moves by more than the gap from \
     one round to the next (`pgbench` runs of the same insert alternated between 166 and \
     510 batches per second within a minute).",
    "Our append is one statement too (`WITH … INSERT … SELECT`): it also reads the stream's \
     head (one index probe), checks the expected version, derives the positions from the \
     transaction id and returns the result row. The store's own append first runs the \
     statement's happy path alone: one insert fed by the probe, with the checks in its \
     `WHERE` clause and nothing else (no materialized checks, nothing joined back to the \
     inserted rows); only when it inserts nothing does the statement that says which check \
     failed run, in a new transaction. A batch travels as parallel arrays (`unnest(…)`); a \
     single event has a statement of its own with plain parameters, which spares the server \
     the function scan and the aggregate over the inserted rows. Measured with \
     `pg_stat_statements` on a server whose WAL sat in memory (so that only CPU counts), \
     the single-event statement took 75 µs per call against the raw insert's 56 µs (the \
     probe and the checks; in `pgbench` runs the checked statement cost the server about 10 µs \
     more per call than the happy path alone). \
     Besides, a `NOTIFY` tells other processes' subscribers about new events: a separate \
     transaction after the append (inside it, PostgreSQL 15 would serialise every append's \
     commit on a database-wide lock), sent at most once per 5 ms on a pooled connection (two \
     round trips with the pool's test of the connection handed back); at single events from \
     one task that is one `NOTIFY` per dozen or so appends. Single events from one task wait \
     on the commit's WAL flush on both sides (see the single-row `pgbench` ceiling and the \
     `pg_test_fsync` figure under Machine, measured in the same run): where the flush is \
     slow the ratio nears 1 (1.05 and 1.31 in two check runs on a disk shared with other \
     jobs, at 260–460 raw inserts per second), and where it is nearly free the extra server \
     work and the `NOTIFY` show (0.75–0.80 with the WAL in memory and both cores busy with \
     other jobs, at 3,250–3,650 raw inserts per second).",
    "Commands from 16 writers: without the cache each command takes two round trips: \
     one statement returns the snapshot and the events after it (50 on average with a \
     snapshot every 100 events; the store is its own snapshot store, so \
     `EventStore::visit_stream_after_snapshot` reads both at once, five columns per event), \
     then the append, plus a snapshot save every 100 commands, where a raw insert takes one \
     round trip; and client and server share two cores that these rounds keep busy: decoding \
     and applying 50 events per command, and the server reading them, are work the raw \
     insert does not do. Measured with `pg_stat_statements` on a server of its own over a \
     run of this case (11,166 commands against 23,989 raw inserts): per command the server \
     spent 98 µs executing the load (snapshot and 50 rows), 51 µs on its share of the \
     shared append statements (6.4 appends per statement) and 1 µs on snapshot saves, 150 \
     µs in all against 93 µs per raw insert, besides the second statement's own round trip, \
     parsing and protocol work; the rounds keep both cores busy, so the rate follows that \
     work, and the ratio moved between 0.40 on a quiet machine and 0.46–0.49 in check runs \
     beside other jobs, which slow the raw inserts more. Timing each phase of a command \
     (instrumented build, this case, real server) showed where the rest went: a load on a \
     pooled connection cost a further round trip when sqlx tested the connection handed \
     back, so the server was woken three times per command. The store's loads now run on \
     the connections it keeps for appends (`PgStoreOptions::with_writer_connections`; a \
     command loads, then appends, so one per writer serves both), which took this case from \
     0.34–0.37 to 0.42–0.46 in alternated check runs with the disk as fast as in a full run \
     (n=15 each). What remains: the two cores (PostgreSQL about 64% of the `perf` samples \
     during these rounds, the client 25%, idle 8%), and about a fifth of a command spent \
     waiting for one of the two group-commit runners (in single, noisy runs four runners \
     halved that wait with no clear gain overall, and eight were no better). With \
     `CommandBus::with_cache::<Account>(…)` the states of recently used aggregates stay in \
     memory: a command costs the append alone (the \
     append states the cached version, so a write by another process is still caught as a \
     conflict and the command reruns on a fresh load), and the rate approaches that of \
     `EventStore::append` from 16 writers above.",
    "Group commit (`PgStoreOptions::with_group_commit(2)`, in every many-writer row but the \
     one that says otherwise, with 16 kept writer connections): appends that arrive while a \
     statement runs queue, and the next free statement appends them all as one transaction, \
     each with its own checks and result; two such statements may run at once, so one runs \
     while the other's commit waits for its flush. The shared statement is one insert fed by \
     one row of parallel arrays per event and that event's head probe, with the checks in \
     its `WHERE` clause; the positions and versions of the inserted rows, returned as two \
     arrays, say which appends were written. Its ceiling is the hand-written group commit of \
     the rows that say so: the writers send their rows down a channel to one task on one \
     connection, which takes everything queued (up to 256 rows), inserts it with one \
     multi-row `INSERT … SELECT FROM unnest(…)` carrying each row's stream and version, and \
     then answers each writer, who waits for that commit before its next row: the same \
     sharing of commits with nothing else (no expected-version check, no result per append). \
     In check runs on this machine, with one runner ours ran at 1.35–1.48 of it at 16 writers \
     and 0.96–1.04 at 64 on a disk shared with other jobs, and at 0.67–0.80 for both with the \
     WAL in memory (where only CPU counts, and both cores were busy with other jobs); with \
     two runners at 1.08–1.66 (and 0.70 in a run where the disk was briefly fast and the raw \
     side reached 15,000 rows per second) and 2.68–3.39 on that disk, and 0.60–0.87 and \
     0.83–1.07 in memory; with three runners no better than with two within the noise. With the WAL in \
     memory, the server's time goes to the rows themselves: about 22 µs per row for the raw \
     insert and about 31 µs for ours with one runner (the head probe and the checks per \
     append; `pg_stat_statements`). The single-row baselines commit every row on its own, so against them the \
     ratio exceeds 1 by the sharing, not by a cheaper insert.",
    "Connections: sqlx tests every connection handed back to its pool with a round trip of \
     its own (a `Sync`, one per statement under `strace`). The store's kept writer \
     connections avoid it on our side, and one connection held per task (or the one \
     connection of the group-commit task) on the raw side. The rates of these rows move with \
     the disk's flush time from one run to the next (the machine table gives the run's \
     `pg_test_fsync` and `pgbench` figures); the ratios move much less.",
];
