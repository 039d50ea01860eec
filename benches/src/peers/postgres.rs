//! Workloads 3 and 4 on `postgres-es` 0.5 (cqrs-es's PostgreSQL event
//! repository, on sqlx 0.8), against `eventsource` on the same server in the
//! same run.

use std::hint::black_box;
use std::str::FromStr;

use cqrs_es::EventStore as _;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, SerializedEvent};
use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, Repository};
use postgres_es::PostgresEventRepository;
use serde_json::Value;
use sqlx::PgPool;
use tokio::runtime::Runtime;

use super::cqrs::{self, CqrsAccount};
use crate::domain::Account;
use crate::domain::mix::StoredEvent;
use crate::measure::{Settings, compare, rate};
use crate::pg::{self, Db};
use crate::report::{Row, Target};
use crate::workloads::postgres::append::{BATCH, append_ours};
use crate::workloads::postgres::load::{self, EVENTS, SNAPSHOT_AT};
use crate::workloads::postgres::{Mix, metadata_text};
use crate::workloads::stream::ACCOUNT;

type Theirs = PersistedEventStore<PostgresEventRepository, CqrsAccount>;

/// postgres-es's tables (its `db/init.sql`), under `schema`.
fn their_tables(schema: &str) -> String {
    format!(
        "CREATE SCHEMA \"{schema}\";
         CREATE TABLE \"{schema}\".events (
             aggregate_type text NOT NULL,
             aggregate_id   text NOT NULL,
             sequence       bigint CHECK (sequence >= 0) NOT NULL,
             event_type     text NOT NULL,
             event_version  text NOT NULL,
             payload        json NOT NULL,
             metadata       json NOT NULL,
             PRIMARY KEY (aggregate_type, aggregate_id, sequence)
         );
         CREATE TABLE \"{schema}\".snapshots (
             aggregate_type   text NOT NULL,
             aggregate_id     text NOT NULL,
             last_sequence    bigint CHECK (last_sequence >= 0) NOT NULL,
             current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
             payload          json NOT NULL,
             PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
         );"
    )
}

/// An event in postgres-es's stored form: the variant's name, `"N.0"`, the
/// payload wrapped in the variant's name.
fn serialized(
    event: &StoredEvent,
    aggregate_id: &str,
    sequence: usize,
    meta: &Value,
) -> SerializedEvent {
    let variant = event.name.trim_start_matches("bench.");
    let payload: Value = serde_json::from_str(&event.payload).expect("the mix is JSON");
    SerializedEvent::new(
        aggregate_id.to_owned(),
        sequence,
        <CqrsAccount as cqrs_es::Aggregate>::TYPE.to_owned(),
        variant.to_owned(),
        format!("{}.0", event.version),
        serde_json::json!({ variant: payload }),
        meta.clone(),
    )
}

/// A sqlx 0.8 pool for a peer, set up as the store's (no ping before each
/// acquire), with `search_path` set to `schema` when given (for a peer whose
/// tables have fixed names).
pub(crate) async fn their_pool(db: &Db, size: u32, schema: Option<&str>) -> sqlx08::PgPool {
    let mut options = sqlx08::postgres::PgConnectOptions::from_str(&db.url)
        .expect("DATABASE_URL is a PostgreSQL URL")
        .application_name("eventsource-bench-peer");
    if let Some(schema) = schema {
        options = options.options([("search_path", format!("\"{schema}\""))]);
    }
    sqlx08::postgres::PgPoolOptions::new()
        .max_connections(size)
        .min_connections(size)
        .test_before_acquire(false)
        .after_connect(|conn, _| Box::pin(nodelay(conn)))
        .connect_with(options)
        .await
        .expect("connect to DATABASE_URL")
}

/// `TCP_NODELAY` on a sqlx 0.8 connection, as ours get it.
async fn nodelay(conn: &mut sqlx08::PgConnection) -> Result<(), sqlx08::Error> {
    let (local, local_port, remote, remote_port): (String, i32, String, i32) = sqlx08::query_as(
        "SELECT host(inet_client_addr()), inet_client_port(), \
                host(inet_server_addr()), inet_server_port()",
    )
    .fetch_one(&mut *conn)
    .await?;
    let address = |host: &str, port: i32| {
        Some(std::net::SocketAddr::new(
            host.parse().ok()?,
            u16::try_from(port).ok()?,
        ))
    };
    if let (Some(local), Some(remote)) =
        (address(&local, local_port), address(&remote, remote_port))
    {
        eventsource_postgres::tcp_nodelay_between(local, remote);
    }
    Ok(())
}

/// Appends and loads on postgres-es, interleaved with ours.
pub(crate) fn run(rt: &Runtime, settings: &Settings, db: &Db) -> Vec<Row> {
    let pool = rt.block_on(pg::pool(db, 4));
    let their_pool = rt.block_on(their_pool(db, 4, None));
    let schema = pg::schema_name("pges");
    rt.block_on(pg::execute(&pool, their_tables(&schema)));
    let repo = || {
        PostgresEventRepository::new(their_pool.clone()).with_tables(
            &format!("\"{schema}\".events"),
            &format!("\"{schema}\".snapshots"),
        )
    };
    let mut rows = Vec::new();

    // Appends.
    let store = rt.block_on(pg::store(&pool, "pges_ours", |o| o));
    let mix = Mix::new();
    let writer = repo();
    for (label, count) in [
        ("single events, one task", 1),
        ("batches of 100, one task", BATCH),
    ] {
        eprintln!("  postgres-es: append, {label}");
        let stream = Account::stream_id(&format!("append-{count}"));
        let id = format!("append-{count}");
        let (mut version, mut their_version) = (0u64, 0usize);
        let per_iteration = if count == 1 { 10 } else { 1 };
        let comparison = compare(
            settings.rounds,
            || {
                rate(settings.round_time, || {
                    rt.block_on(async {
                        for _ in 0..per_iteration {
                            append_ours(&store, &mix, &stream, version, count, version).await;
                            version += count as u64;
                        }
                    });
                    (per_iteration * count) as u64
                })
            },
            || {
                rate(settings.round_time, || {
                    rt.block_on(async {
                        for _ in 0..per_iteration {
                            let meta: Value = serde_json::from_str(&metadata_text(Uuid::now_v7()))
                                .expect("metadata is JSON");
                            let events: Vec<SerializedEvent> = (0..count)
                                .map(|i| {
                                    let n = their_version + i;
                                    serialized(mix.get(n as u64), &id, n + 1, &meta)
                                })
                                .collect();
                            writer
                                .persist::<CqrsAccount>(&events, None)
                                .await
                                .expect("postgres-es appends");
                            their_version += count;
                        }
                    });
                    (per_iteration * count) as u64
                })
            },
        );
        let row = Row::new(
            format!("append, {label} (workload 3)"),
            "events/s",
            comparison,
        );
        rows.push(if count == BATCH {
            row.target(Target::AtLeast(3.0))
        } else {
            row
        });
    }

    // Loads of the workload-4 stream.
    let loaded = rt.block_on(load::prepare(&pool));
    rt.block_on(fill(&pool, &schema, &loaded.events));
    let plain_repo = Repository::<Account>::new(loaded.store.clone()).expect("a valid registry");
    let snap_repo = plain_repo.clone().with_snapshots(loaded.store.clone());
    let theirs_plain = Theirs::new_event_store(repo()).with_upcasters(cqrs::upcasters());
    let theirs_snap = Theirs::new_snapshot_store(repo(), 100).with_upcasters(cqrs::upcasters());
    let load_theirs = |store: &Theirs| -> CqrsAccount {
        rt.block_on(store.load_aggregate(ACCOUNT))
            .expect("postgres-es loads the stream")
            .aggregate
    };
    for (label, with_snapshot) in [
        ("load, 10,000 events, no snapshot (workload 4)", false),
        ("load, snapshot at 9,950 + 50 events (workload 4)", true),
    ] {
        eprintln!("  postgres-es: {label}");
        let (ours_repo, theirs) = if with_snapshot {
            (&snap_repo, &theirs_snap)
        } else {
            (&plain_repo, &theirs_plain)
        };
        let snapshot = with_snapshot.then_some(SNAPSHOT_AT);
        let ours_state = load::plain_of(&rt.block_on(load::load_ours(ours_repo, snapshot)));
        let their_state = load_theirs(theirs);
        assert_eq!(
            (ours_state.balance, ours_state.deposits, ours_state.fees),
            (their_state.balance, their_state.deposits, their_state.fees),
            "eventsource and postgres-es disagree"
        );
        let units = if with_snapshot { 1 } else { EVENTS as u64 };
        let comparison = compare(
            settings.rounds,
            || {
                rate(settings.round_time, || {
                    black_box(rt.block_on(load::load_ours(ours_repo, snapshot)));
                    units
                })
            },
            || {
                rate(settings.round_time, || {
                    black_box(load_theirs(theirs));
                    units
                })
            },
        );
        let unit = if with_snapshot { "loads/s" } else { "events/s" };
        rows.push(Row::new(label, unit, comparison));
    }

    rt.block_on(async {
        pg::drop_schema(&pool, &schema).await;
        pg::drop_schema(&pool, store.schema()).await;
        pg::drop_schema(&pool, loaded.store.schema()).await;
        their_pool.close().await;
        pool.close().await;
    });
    rows
}

/// Stores the workload-4 stream, and a snapshot at the same version, in
/// postgres-es's tables.
async fn fill(pool: &PgPool, schema: &str, events: &[StoredEvent]) {
    let meta: Value = serde_json::from_str(&metadata_text(Uuid::now_v7())).expect("JSON");
    let mut state = CqrsAccount::default();
    let mut types = Vec::new();
    let mut versions = Vec::new();
    let mut payloads = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let s = serialized(event, ACCOUNT, i + 1, &meta);
        if (i as u64) < SNAPSHOT_AT {
            let typed: cqrs::CqrsEvent =
                serde_json::from_value(s.payload.clone()).expect("the event decodes");
            cqrs_es::Aggregate::apply(&mut state, typed);
        }
        types.push(s.event_type);
        versions.push(s.event_version);
        payloads.push(s.payload.to_string());
    }
    let sql = format!(
        "INSERT INTO \"{schema}\".events \
             (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
         SELECT $1, $2, u.ord, u.event_type, u.event_version, u.payload::json, $3::json \
         FROM unnest($4::text[], $5::text[], $6::text[]) \
             WITH ORDINALITY AS u(event_type, event_version, payload, ord)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(<CqrsAccount as cqrs_es::Aggregate>::TYPE)
        .bind(ACCOUNT)
        .bind(meta.to_string())
        .bind(&types)
        .bind(&versions)
        .bind(&payloads)
        .execute(pool)
        .await
        .expect("postgres-es's events are stored");
    let sql = format!(
        "INSERT INTO \"{schema}\".snapshots \
             (aggregate_type, aggregate_id, last_sequence, current_snapshot, payload) \
         VALUES ($1, $2, $3, $4, $5::json)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(<CqrsAccount as cqrs_es::Aggregate>::TYPE)
        .bind(ACCOUNT)
        .bind(SNAPSHOT_AT as i64)
        .bind((SNAPSHOT_AT / 100) as i64)
        .bind(serde_json::to_string(&state).expect("the state serializes"))
        .execute(pool)
        .await
        .expect("postgres-es's snapshot is stored");
    pg::analyze(pool, schema, &["events", "snapshots"]).await;
}
