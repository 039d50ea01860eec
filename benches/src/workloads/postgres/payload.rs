//! The payload column's type: copies of the store's events table with
//! `payload` and `metadata` in `jsonb` (the columns before migration 13),
//! `json` (the store's default since), `json` with `jsonb` metadata, `text`
//! and `bytea`, written and read with raw sqlx, all interleaved in the same
//! rounds. No library code is involved: these are the figures the store's
//! default was chosen from.

use std::cell::Cell;
use std::hint::black_box;

use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, Metadata};
use futures::TryStreamExt;
use sqlx::{PgPool, Row as _};
use tokio::runtime::Runtime;

use super::{INSERT_COLUMNS, Mix, Sql};
use crate::domain::Account;
use crate::domain::mix::{self, Schema};
use crate::domain::plain::{self, PlainAccount};
use crate::measure::{Comparison, Settings, interleave, progress, rate};
use crate::pg::{self, Db};
use crate::report::{Body, Row, Section};

/// One way to store the two columns: their types and the cast the
/// appends write them through.
struct Variant {
    /// The row label.
    label: &'static str,
    /// The table, `events_<name>`.
    name: &'static str,
    payload: &'static str,
    metadata: &'static str,
    /// The cast of the text the appends send (none for `text` and `bytea`).
    write: &'static str,
    /// Which comparisons it takes part in.
    role: Role,
}

/// Which comparisons a variant takes part in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Appends and reads.
    Both,
    /// Appends only: another way of writing the same columns.
    Append,
    /// Reads only: the `json` columns read as they are, without the cast
    /// to `text` (the binary form of `json` is its text), so the cost of
    /// the cast shows.
    ReadUncast,
}

/// The columns before migration 13 first (the baseline), then the others.
const VARIANTS: [Variant; 7] = [
    Variant {
        label: "`jsonb`",
        name: "jsonb",
        payload: "jsonb",
        metadata: "jsonb",
        write: "jsonb",
        role: Role::Both,
    },
    Variant {
        label: "`json`",
        name: "json",
        payload: "json",
        metadata: "json",
        write: "json",
        role: Role::Both,
    },
    Variant {
        label: "`json` payload, `jsonb` metadata",
        name: "mixed",
        payload: "json",
        metadata: "jsonb",
        write: "json",
        role: Role::Both,
    },
    Variant {
        label: "`text`",
        name: "text",
        payload: "text",
        metadata: "text",
        write: "",
        role: Role::Both,
    },
    Variant {
        label: "`bytea`",
        name: "bytea",
        payload: "bytea",
        metadata: "bytea",
        write: "",
        role: Role::Both,
    },
    Variant {
        label: "`jsonb` written through `::json` (the store's statements on `jsonb` columns)",
        name: "jsonb_via_json",
        payload: "jsonb",
        metadata: "jsonb",
        write: "json",
        role: Role::Append,
    },
    Variant {
        label: "`json`, read without the cast to `text`",
        name: "json_uncast",
        payload: "json",
        metadata: "json",
        write: "json",
        role: Role::ReadUncast,
    },
];

/// Events in the stream the read rows load.
const STREAM_EVENTS: usize = 10_000;

/// Events per append.
const BATCH: usize = 100;

/// One table: its variant and statements.
struct Table {
    variant: &'static Variant,
    insert: Sql,
    read: Sql,
}

impl Table {
    fn new(schema: &str, variant: &'static Variant) -> Self {
        let table = format!("\"{schema}\".events_{}", variant.name);
        // `bytea` travels as bytes both ways; the others as text, cast by
        // the server as the store's statements do.
        let bytes = variant.payload == "bytea";
        let array = if bytes { "bytea" } else { "text" };
        let cast = if variant.write.is_empty() {
            String::new()
        } else {
            format!("::{}", variant.write)
        };
        let uncast = variant.role == Role::ReadUncast;
        let read = |column: &str, kind: &str| match kind {
            "text" | "bytea" => column.to_owned(),
            _ if uncast => column.to_owned(),
            _ => format!("{column}::text"),
        };
        Self {
            variant,
            insert: Sql::new(format!(
                "INSERT INTO {table} ({INSERT_COLUMNS}) \
                 SELECT $1::int8 + u.ord, pg_current_xact_id(), $2::text, $3::text, \
                     $4::int8 + u.ord, u.event_id, u.event_name, u.schema_version, \
                     u.payload{cast}, u.metadata{cast} \
                 FROM unnest($5::uuid[], $6::text[], $7::int4[], $8::{array}[], $9::{array}[]) \
                     WITH ORDINALITY AS u(event_id, event_name, schema_version, payload, metadata, ord)"
            )),
            read: Sql::new(format!(
                "SELECT stream_version, event_name, schema_version, {}, {} FROM {table} \
                 WHERE stream_id = $1 ORDER BY stream_version",
                read("payload", variant.payload),
                read("metadata", variant.metadata)
            )),
        }
    }

    fn bytes(&self) -> bool {
        self.variant.payload == "bytea"
    }

    /// Inserts `count` events of the mix after `after`, at positions from `position`.
    async fn insert(
        &self,
        pool: &PgPool,
        mix: &Mix,
        stream: &str,
        after: i64,
        position: i64,
        count: usize,
    ) {
        let command_id = Uuid::now_v7();
        let events: Vec<_> = (0..count as u64)
            .map(|i| mix.raw(after as u64 + i, command_id))
            .collect();
        let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
        let names: Vec<&str> = events.iter().map(|e| e.name).collect();
        let versions: Vec<i32> = events.iter().map(|e| e.version).collect();
        let query = sqlx::query(self.insert.get())
            .bind(position)
            .bind(stream)
            .bind(Account::NAME)
            .bind(after)
            .bind(&ids)
            .bind(&names)
            .bind(&versions);
        let query = if self.bytes() {
            let payloads: Vec<&[u8]> = events.iter().map(|e| e.payload.as_bytes()).collect();
            let metadata: Vec<&[u8]> = events.iter().map(|e| e.metadata.as_bytes()).collect();
            query.bind(payloads).bind(metadata)
        } else {
            let payloads: Vec<&str> = events.iter().map(|e| e.payload).collect();
            let metadata: Vec<&str> = events.iter().map(|e| e.metadata.as_str()).collect();
            query.bind(payloads).bind(metadata)
        };
        query.execute(pool).await.expect("the insert succeeds");
    }

    /// Reads the stream, parses each payload and metadata, applies the events.
    async fn load(&self, pool: &PgPool, stream: &str) -> PlainAccount {
        let mut state = PlainAccount::default();
        let mut rows = sqlx::query(self.read.get()).bind(stream).fetch(pool);
        while let Some(row) = rows.try_next().await.expect("the rows read") {
            let name: &str = row.get(1);
            let schema_version: i32 = row.get(2);
            let (payload, metadata): (&str, &str) = if self.bytes() {
                let text = |i: usize| std::str::from_utf8(row.get(i)).expect("UTF-8 JSON");
                (text(3), text(4))
            } else if self.variant.role == Role::ReadUncast {
                // sqlx checks `&str` against the text types; the binary
                // form of `json` is its text all the same.
                let text = |i: usize| row.try_get_unchecked::<&str, _>(i).expect("JSON text");
                (text(3), text(4))
            } else {
                (row.get(3), row.get(4))
            };
            let metadata: Metadata = serde_json::from_str(metadata).expect("the metadata parses");
            black_box(metadata);
            let event = plain::decode(name, schema_version as u32, payload).expect("it decodes");
            state.apply(&event);
        }
        state
    }
}

pub(crate) fn run(rt: &Runtime, settings: &Settings, db: &Db) -> Section {
    // The Unix socket when there is one: the notes' figures were taken
    // there, when TCP connections still waited for delayed ACKs.
    let (pool, transport) = match rt.block_on(pg::socket_pool(db, 4)) {
        Ok(pool) => (pool, "the server's Unix socket".to_owned()),
        Err(why) => {
            eprintln!("  over TCP: {why}");
            (
                rt.block_on(pg::pool(db, 4)),
                format!("TCP (no Unix socket: {why})"),
            )
        }
    };
    let store = rt.block_on(pg::store(&pool, "payload", |o| o));
    let schema = store.schema().to_owned();
    for variant in &VARIANTS {
        let column = |c: &str, kind: &str| {
            let using = if kind == "bytea" {
                format!("convert_to({c}::text, 'UTF8')")
            } else {
                format!("{c}::text::{kind}")
            };
            format!("ALTER COLUMN {c} TYPE {kind} USING {using}")
        };
        let name = variant.name;
        rt.block_on(pg::execute(
            &pool,
            format!(
                "CREATE TABLE \"{schema}\".events_{name} (LIKE \"{schema}\".events INCLUDING ALL); \
                 ALTER TABLE \"{schema}\".events_{name} {}, {}",
                column("payload", variant.payload),
                column("metadata", variant.metadata)
            ),
        ));
    }
    let tables: Vec<Table> = VARIANTS.iter().map(|v| Table::new(&schema, v)).collect();
    let mix = Mix::new();
    let stream_mix = Mix::from_events(mix::events(STREAM_EVENTS, Schema::Current));
    let loaded = Account::stream_id("payload-load");
    rt.block_on(async {
        for table in &tables {
            for chunk in 0..STREAM_EVENTS / 1_000 {
                let after = (chunk * 1_000) as i64;
                table
                    .insert(
                        &pool,
                        &stream_mix,
                        &loaded,
                        after,
                        1_000_000_000 + after,
                        1_000,
                    )
                    .await;
            }
        }
        let names: Vec<String> = VARIANTS
            .iter()
            .map(|v| format!("events_{}", v.name))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        pg::analyze(&pool, &schema, &names).await;
    });
    let first = rt.block_on(tables[0].load(&pool, &loaded));
    for table in &tables[1..] {
        assert_eq!(
            first,
            rt.block_on(table.load(&pool, &loaded)),
            "{}",
            table.variant.label
        );
    }

    let mut rows = Vec::new();
    let appended: Vec<&Table> = tables
        .iter()
        .filter(|t| t.variant.role != Role::ReadUncast)
        .collect();
    let position = Cell::new(0i64);
    eprintln!("  append, batches of 100");
    let samples = append(
        rt,
        settings,
        &pool,
        &appended,
        &mix,
        "payload-append",
        &position,
    );
    push_rows(
        &mut rows,
        "append, batches of 100 (`INSERT … SELECT FROM unnest`)",
        "events/s",
        appended.iter().map(|t| t.variant.label),
        &samples,
    );
    // With commits waiting for the WAL flush, the flush hides the server's
    // work on the rows; without, the rows' cost shows.
    eprintln!("  append, batches of 100, synchronous_commit off");
    let unsynced = rt.block_on(unsynced_pool(db));
    let samples = append(
        rt,
        settings,
        &unsynced,
        &appended,
        &mix,
        "payload-append-unsynced",
        &position,
    );
    rt.block_on(unsynced.close());
    push_rows(
        &mut rows,
        "append, batches of 100, `synchronous_commit = off` (the rows' cost without the \
         WAL flush)",
        "events/s",
        appended.iter().map(|t| t.variant.label),
        &samples,
    );

    eprintln!("  read, {STREAM_EVENTS} events");
    let readable: Vec<&Table> = tables
        .iter()
        .filter(|t| t.variant.role != Role::Append)
        .collect();
    let samples = {
        let mut sides: Vec<Box<dyn FnMut() -> f64 + '_>> = readable
            .iter()
            .map(|table| {
                let (pool, loaded) = (&pool, &loaded);
                Box::new(move || {
                    rate(settings.round_time, || {
                        black_box(rt.block_on(table.load(pool, loaded)));
                        STREAM_EVENTS as u64
                    })
                }) as Box<dyn FnMut() -> f64 + '_>
            })
            .collect();
        let mut sides: Vec<&mut dyn FnMut() -> f64> =
            sides.iter_mut().map(|s| &mut **s as _).collect();
        interleave(settings.rounds, &mut sides)
    };
    push_rows(
        &mut rows,
        "read a 10,000-event stream, payload and metadata parsed",
        "events/s",
        readable.iter().map(|t| t.variant.label),
        &samples,
    );

    rt.block_on(async {
        pg::drop_schema(&pool, &schema).await;
        pool.close().await;
    });
    Section {
        number: "11",
        title: "Payload column type",
        method: format!(
            "Copies of the store's events table (`CREATE TABLE … (LIKE events \
                 INCLUDING ALL)`, the same constraints and indexes) with `payload` and \
                 `metadata` in `jsonb` (the store's columns before migration 13), `json` \
                 (its columns since), `json` with `jsonb` metadata, `text` and `bytea`, \
                 written and read with raw sqlx, all interleaved in the same rounds: appends \
                 of batches of 100 of the account mix through `INSERT … SELECT FROM \
                 unnest(…)` (JSON sent as text and cast by the server, as the store does; \
                 `bytea` sent as bytes), and reads of one 10,000-event stream (JSON read as \
                 text, `bytea` as bytes checked as UTF-8), each payload decoded into its \
                 struct and each metadata parsed. The appends run twice: as committed \
                 durably, and with `synchronous_commit = off`, where the WAL flush no \
                 longer hides the server's work on the rows. The append rows add `jsonb` \
                 columns written through `::json`, what the store's statements cost a \
                 store that keeps `jsonb`; the read rows add the `json` columns read \
                 without the cast to `text`. The ratio is the other variant ÷ `jsonb`: above 1, faster \
                 than `jsonb`. All over {transport}. No library code runs here."
        ),
        body: Body::Measured {
            ours: "other type",
            baseline: "`jsonb` (the store's columns before migration 13)".into(),
            rows,
            notes: vec![
                "`jsonb` is parsed and checked by the server on every write and converted \
                 back to text on every read (`jsonb_out`); `json` is checked on write and \
                 stored and returned as written; `text` and `bytea` are neither checked nor \
                 converted, so the store alone would vouch that the payload is JSON. Only \
                 `jsonb` can be indexed and queried by path efficiently (GIN, `@>`)."
                    .to_owned(),
                "What was chosen and why: `json` for `payload` and `metadata` of both \
                 event tables, and for snapshot states (migration 13). In three runs of \
                 this workload (2 cores, load average 4.8 to 6.4, \
                 PostgreSQL 15, Unix socket, 15 rounds each) `json` read the stream 1.61, \
                 1.58 and 1.66 times as fast as `jsonb`, and appended at 0.99, 1.09 and 1.06 \
                 of its rate (1.06, 1.04 and 1.21 without the WAL flush): reads gain, \
                 appends lose nothing. Metadata is part of it: with `json` payloads and \
                 `jsonb` metadata, reads ran only 1.25, 1.21 and 1.30 times as fast. \
                 `text` and `bytea` read a little faster still (1.67 to 2.03) but would \
                 give up the server's check that a payload is JSON and the JSON operators \
                 hand-written SQL and the conjoined tenant policy (`metadata #>> …`) use, \
                 for a further tenth or so; `json` keeps both. Reading `json` without \
                 the cast to `text` was no faster (1.49, 1.48, 1.54), so the store's \
                 `::text` stays, which works on either type. A store that keeps `jsonb` \
                 (to index and query payloads) pays for the store's `::json` casts, a \
                 parse more per value: 0.81, 0.98 and 1.02 of the `::jsonb` appends \
                 (0.93, 0.95, 1.06 without the WAL flush), within the noise of a loaded \
                 machine. Over TCP without `TCP_NODELAY` the appends of this workload \
                 ran at about 2,100 events/s whatever the type or the commit setting (a \
                 delayed ACK per batch), hence the socket."
                    .to_owned(),
            ],
        },
    }
}

/// Appends batches of [`BATCH`] to each of `tables` in turn, each on its
/// own stream `stream`, interleaved; `position` gives each batch its
/// positions, unique across the tables' runs.
fn append(
    rt: &Runtime,
    settings: &Settings,
    pool: &PgPool,
    tables: &[&Table],
    mix: &Mix,
    stream: &str,
    position: &Cell<i64>,
) -> Vec<Vec<f64>> {
    let stream = Account::stream_id(stream);
    let mut next = vec![0i64; tables.len()];
    let mut sides: Vec<Box<dyn FnMut() -> f64 + '_>> = Vec::new();
    for (table, after) in tables.iter().zip(next.iter_mut()) {
        let stream = &stream;
        sides.push(Box::new(move || {
            rate(settings.round_time, || {
                position.set(position.get() + BATCH as i64);
                rt.block_on(table.insert(pool, mix, stream, *after, position.get(), BATCH));
                *after += BATCH as i64;
                BATCH as u64
            })
        }));
    }
    let mut sides: Vec<&mut dyn FnMut() -> f64> = sides.iter_mut().map(|s| &mut **s as _).collect();
    interleave(settings.rounds, &mut sides)
}

/// A pool like the workload's (over the Unix socket when there is one)
/// whose commits do not wait for the WAL flush.
async fn unsynced_pool(db: &Db) -> PgPool {
    pg::pool_with_settings(db, 4, &[("synchronous_commit", "off")]).await
}

/// A row per other variant, each against `jsonb` (the first samples).
fn push_rows(
    rows: &mut Vec<Row>,
    what: &str,
    unit: &'static str,
    labels: impl Iterator<Item = &'static str>,
    samples: &[Vec<f64>],
) {
    for (label, other) in labels.zip(samples).skip(1) {
        let comparison = Comparison::of(other, &samples[0]);
        progress(&comparison);
        rows.push(Row::new(format!("{what}: {label}"), unit, comparison));
    }
}
