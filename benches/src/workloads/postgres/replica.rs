//! Workload 13: aggregate loads from a hot standby while writers append on
//! the primary, against the same loads on the primary in the same rounds.
//!
//! It needs a primary and a streaming standby: `REPLICA_PRIMARY_URL` and
//! `REPLICA_STANDBY_URL`, as `scripts/with-replica-postgres` exports them.
//! `cargo bench -p eventsource-benches -- --only replica` runs itself again
//! under that script when they are unset; in a run of every workload the
//! section says how to get them instead.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, Repository};
use eventsource_postgres::{PgEventStore, PgStoreOptions, ReplicaReads};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::runtime::Runtime;

use crate::domain::Account;
use crate::domain::mix::{self, Schema};
use crate::measure::{Comparison, Settings};
use crate::pg;
use crate::report::{Body, Row, Section};

pub(crate) const NUMBER: &str = "13";
pub(crate) const TITLE: &str = "Loads from a hot standby";

pub(crate) const METHOD: &str = "A primary and a hot standby streaming from it \
     asynchronously, both throwaway servers on this machine (`scripts/with-replica-postgres`). \
     200 accounts of 100 events of the account mix; 4 writer tasks append batches of 10 \
     events to other streams on the primary without pause throughout. In each round, 4 \
     loader tasks run `Repository::<Account>::load` on random accounts for the round's time, \
     once through a store with `ReplicaReads::Everything` (the stream read on the standby) \
     and once through a store on the primary alone, interleaved; the ratio is standby over \
     primary. The writers' append rate during each side is reported too.";

/// The variables the workload reads its servers from.
pub(crate) const PRIMARY_VAR: &str = "REPLICA_PRIMARY_URL";
pub(crate) const STANDBY_VAR: &str = "REPLICA_STANDBY_URL";

const ACCOUNTS: usize = 200;
const PER_ACCOUNT: usize = 100;
const LOADERS: usize = 4;
const WRITERS: usize = 4;

/// The two servers' URLs, when the environment names them.
pub(crate) fn servers() -> Option<(String, String)> {
    let var = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    Some((var(PRIMARY_VAR)?, var(STANDBY_VAR)?))
}

/// The section when there are no servers.
pub(crate) fn not_measured() -> Section {
    Section {
        number: NUMBER,
        title: TITLE,
        method: METHOD.to_owned(),
        body: Body::NotMeasured(format!(
            "{PRIMARY_VAR} and {STANDBY_VAR} are not set: run `scripts/with-replica-postgres \
             cargo bench -p eventsource-benches -- --only replica` (or with `--only replica` \
             alone, which does that itself)."
        )),
    }
}

/// Runs this harness again, with the same arguments, under
/// `scripts/with-replica-postgres`, which starts a primary and a standby.
pub(crate) fn rerun(root: &Path, args: &[String]) -> ExitCode {
    let script = root.join("scripts").join("with-replica-postgres");
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("cannot find the harness executable: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "{PRIMARY_VAR} and {STANDBY_VAR} are not set: running again under {}",
        script.display()
    );
    match Command::new(&script).arg(exe).args(args).status() {
        Ok(status) if status.success() => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("{} ended with {status}", script.display());
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("cannot run {}: {error}", script.display());
            ExitCode::FAILURE
        }
    }
}

async fn pool(url: &str, size: u32) -> PgPool {
    let options = PgConnectOptions::from_str(url).expect("a PostgreSQL URL");
    PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                eventsource_postgres::tcp_nodelay(conn).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// Stores the accounts, and waits until the standby has them.
async fn prepare(primary: &PgPool, standby: &PgPool) -> PgEventStore {
    let options = PgStoreOptions::new(&pg::schema_name("replica")).expect("a valid schema name");
    let store = PgEventStore::with_options(primary.clone(), options);
    store.migrate().await.expect("the migrations apply");
    let events = mix::events(PER_ACCOUNT, Schema::Current);
    for a in 0..ACCOUNTS {
        let command_id = Uuid::now_v7();
        let new = events.iter().map(|e| e.to_new_event(command_id)).collect();
        store
            .append(
                &Account::stream_id(&format!("r{a}")),
                Account::NAME,
                ExpectedVersion::NoStream,
                new,
            )
            .await
            .expect("an account is stored");
    }
    pg::analyze(primary, store.schema(), &["events"]).await;
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(primary)
        .await
        .expect("the primary's WAL position");
    for _ in 0..6_000 {
        let applied: bool =
            sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
                .bind(&lsn)
                .fetch_one(standby)
                .await
                .expect("the standby's replay position");
        if applied {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    store
}

/// Appends on the primary until `stop`, counting events.
async fn write(store: PgEventStore, w: usize, stop: Arc<AtomicBool>, appended: Arc<AtomicU64>) {
    let events = mix::events(PER_ACCOUNT, Schema::Current);
    let stream = Account::stream_id(&format!("writer{w}"));
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let command_id = Uuid::now_v7();
        let batch = (0..10)
            .map(|i| events[1 + (n + i) % (PER_ACCOUNT - 1)].to_new_event(command_id))
            .collect();
        store
            .append(&stream, Account::NAME, ExpectedVersion::Any, batch)
            .await
            .expect("a writer's append");
        appended.fetch_add(10, Ordering::Relaxed);
        n += 10;
    }
}

/// Linux's clock ticks per second in `/proc` (`USER_HZ`, 100 on every
/// mainstream build).
const TICKS: f64 = 100.0;

/// The CPU seconds used so far by the server behind `pool`: its postmaster,
/// its live children, and the children that ended (from `/proc`, Linux
/// only; the role must read `data_directory`, as a superuser can).
async fn server_cpu(pool: &PgPool) -> Option<f64> {
    let dir: String = sqlx::query_scalar("SELECT current_setting('data_directory')")
        .fetch_one(pool)
        .await
        .ok()?;
    let pid_file = std::fs::read_to_string(Path::new(&dir).join("postmaster.pid")).ok()?;
    let postmaster: u32 = pid_file.lines().next()?.trim().parse().ok()?;
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The fields after the command name, which is in parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let parent = field(1);
        if pid == postmaster {
            // Its own time and that of its children that have ended.
            ticks += field(11) + field(12) + field(13) + field(14);
        } else if parent == u64::from(postmaster) {
            ticks += field(11) + field(12);
        }
    }
    Some(ticks as f64 / TICKS)
}

/// One side of a round.
struct Sample {
    loads: f64,
    writes: f64,
    /// Cores busy on each server, when `/proc` tells.
    primary_cpu: Option<f64>,
    standby_cpu: Option<f64>,
}

/// Loads per second through `repo` by [`LOADERS`] tasks for `time`, the
/// events per second the writers appended meanwhile, and each server's CPU.
async fn side(
    repo: &Repository<Account>,
    time: Duration,
    appended: &AtomicU64,
    servers: (&PgPool, &PgPool),
) -> Sample {
    let cpu_before = (server_cpu(servers.0).await, server_cpu(servers.1).await);
    let before = appended.load(Ordering::Relaxed);
    let started = Instant::now();
    let loaders = (0..LOADERS).map(|l| {
        let repo = repo.clone();
        tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(l as u64);
            let mut loads = 0u64;
            while started.elapsed() < time {
                let id = format!("r{}", rng.usize(0..ACCOUNTS));
                repo.load(&id)
                    .await
                    .expect("the stream loads")
                    .expect("the account exists");
                loads += 1;
            }
            loads
        })
    });
    let mut loads = 0;
    for loader in loaders.collect::<Vec<_>>() {
        loads += loader.await.expect("a loader task");
    }
    let elapsed = started.elapsed().as_secs_f64();
    let wrote = appended.load(Ordering::Relaxed) - before;
    let cpu_after = (server_cpu(servers.0).await, server_cpu(servers.1).await);
    let busy = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / elapsed);
    Sample {
        loads: loads as f64 / elapsed,
        writes: wrote as f64 / elapsed,
        primary_cpu: busy(cpu_before.0, cpu_after.0),
        standby_cpu: busy(cpu_before.1, cpu_after.1),
    }
}

/// The standby's replay lag as the primary reports it, in milliseconds.
async fn replay_lag_ms(primary: &PgPool) -> Option<f64> {
    sqlx::query_scalar(
        "SELECT (extract(epoch FROM replay_lag) * 1000)::float8 FROM pg_stat_replication LIMIT 1",
    )
    .fetch_one(primary)
    .await
    .ok()
    .flatten()
}

pub(crate) fn run(rt: &Runtime, settings: &Settings, urls: &(String, String)) -> Section {
    let (primary_url, standby_url) = urls;
    let pools = rt.block_on(async { (pool(primary_url, 12).await, pool(standby_url, 6).await) });
    let (primary, standby) = pools;
    let store = rt.block_on(prepare(&primary, &standby));
    let on_standby = Repository::<Account>::new(
        store
            .clone()
            .with_replica(standby.clone(), ReplicaReads::Everything),
    )
    .expect("a valid registry");
    let on_primary = Repository::<Account>::new(store.clone()).expect("a valid registry");
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| rt.spawn(write(store.clone(), w, stop.clone(), appended.clone())))
        .collect();
    // Longer rounds than the other workloads: each side is a mix of tasks.
    let time = settings.round_time * 3;
    // Per side (0: loads on the standby, 1: on the primary): loads/s,
    // writers' events/s, primary cores, standby cores.
    let mut figures: [[Vec<f64>; 4]; 2] = Default::default();
    let mut lags = Vec::new();
    let mut measure = |which: usize, keep: bool| {
        let repo = if which == 0 { &on_standby } else { &on_primary };
        let sample = rt.block_on(side(repo, time, &appended, (&primary, &standby)));
        if !keep {
            return;
        }
        let kept = &mut figures[which];
        kept[0].push(sample.loads);
        kept[1].push(sample.writes);
        if let (Some(p), Some(s)) = (sample.primary_cpu, sample.standby_cpu) {
            kept[2].push(p);
            kept[3].push(s);
        }
        if let Some(lag) = rt.block_on(replay_lag_ms(&primary)) {
            lags.push(lag);
        }
    };
    // Warm-up, once each, not kept.
    measure(0, false);
    measure(1, false);
    for round in 0..settings.rounds.max(1) {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for which in order {
            measure(which, true);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        rt.block_on(writer).expect("a writer task");
    }
    rt.block_on(pg::drop_schema(&primary, store.schema()));
    let compared: Vec<Comparison> = (0..4)
        .map(|i| Comparison::of(&figures[0][i], &figures[1][i]))
        .collect();
    for comparison in &compared {
        crate::measure::progress(comparison);
    }
    let mut compared = compared.into_iter();
    let mut next = || compared.next().expect("four comparisons");
    let (load, write, primary_cpu, standby_cpu) = (next(), next(), next(), next());
    let cpu_known = !figures[0][2].is_empty();
    lags.sort_by(f64::total_cmp);
    let lag = |q: f64| crate::measure::quantile(&mut lags.clone(), q);
    Section {
        number: NUMBER,
        title: TITLE,
        method: METHOD.to_owned(),
        body: Body::Measured {
            ours: "standby",
            baseline: "primary".to_owned(),
            rows: {
                let mut rows = vec![
                    Row::new(
                        format!(
                            "`Repository::load` of a {PER_ACCOUNT}-event account, {LOADERS} loaders"
                        ),
                        "loads/s",
                        load,
                    ),
                    Row::new(
                        format!("the {WRITERS} writers on the primary meanwhile"),
                        "events/s",
                        write,
                    ),
                ];
                if cpu_known {
                    rows.push(Row::new(
                        "the primary's CPU meanwhile",
                        "cores",
                        primary_cpu,
                    ));
                    rows.push(Row::new(
                        "the standby's CPU meanwhile",
                        "cores",
                        standby_cpu,
                    ));
                }
                rows
            },
            notes: vec![
                format!(
                    "The standby's replay lag (`pg_stat_replication.replay_lag`, sampled after \
                     each side): median {:.1} ms, max {:.1} ms.",
                    lag(0.5),
                    lag(1.0)
                ),
                "Both servers share this machine's cores with the benchmark, so the figures \
                 show the cost of the routing and of a second server's reads, not the gain of \
                 a standby on hardware of its own; there, the primary's CPU and I/O spent on \
                 loads move to the standby."
                    .to_owned(),
            ],
        },
    }
}
