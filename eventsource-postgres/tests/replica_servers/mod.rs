//! A primary and a hot standby streaming from it, for the replica tests.
//!
//! `scripts/with-replica-postgres` starts both and exports their URLs as
//! `REPLICA_PRIMARY_URL` and `REPLICA_STANDBY_URL` (`./scripts/test` runs
//! the tests under it). Without them, the tests start that script
//! themselves, once per test binary, keeping it alive until the binary
//! exits (its command waits on this process's pipe, whose end at exit lets
//! the script stop and remove the servers). If neither works, they fail and
//! say why: never a skip.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use eventsource_postgres::{PgEventStore, PgStoreOptions, ReplicaReads};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The two servers' URLs, and the script that serves them when this
/// process started it.
struct Servers {
    primary: String,
    standby: String,
    _script: Option<Child>,
}

fn servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        match (env("REPLICA_PRIMARY_URL"), env("REPLICA_STANDBY_URL")) {
            (Some(primary), Some(standby)) => Servers {
                primary,
                standby,
                _script: None,
            },
            _ => start_script(),
        }
    })
}

fn start_script() -> Servers {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/with-replica-postgres"
    );
    let mut child = Command::new(script)
        .args([
            "sh",
            "-c",
            "echo \"$REPLICA_PRIMARY_URL $REPLICA_STANDBY_URL\"; read _",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "REPLICA_PRIMARY_URL and REPLICA_STANDBY_URL are not set, and starting \
                 {script} failed ({e}); run the tests under scripts/with-replica-postgres \
                 (./scripts/test does), which needs the PostgreSQL server binaries \
                 (initdb, pg_ctl, pg_basebackup)"
            )
        });
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    let read = BufReader::new(stdout).read_line(&mut line);
    let mut urls = line.split_whitespace().map(str::to_owned);
    match (read, urls.next(), urls.next()) {
        (Ok(_), Some(primary), Some(standby)) => Servers {
            primary,
            standby,
            _script: Some(child),
        },
        _ => {
            let status = child.wait().ok();
            panic!(
                "REPLICA_PRIMARY_URL and REPLICA_STANDBY_URL are not set, and \
                 {script} could not start a primary and a standby (exit {status:?}; its \
                 messages are above): it needs the PostgreSQL server binaries (initdb, \
                 pg_ctl, pg_basebackup), e.g. `apt-get install postgresql`"
            )
        }
    }
}

/// The primary's URL.
pub fn primary_url() -> &'static str {
    &servers().primary
}

/// The standby's URL.
pub fn standby_url() -> &'static str {
    &servers().standby
}

/// How commits on the primary pools wait for the standby.
#[derive(Clone, Copy, Debug)]
pub enum Commits {
    /// `synchronous_commit = local`: the standby lags behind.
    Asynchronous,
    /// `synchronous_commit = remote_apply`: a commit returns once the
    /// standby has applied it (read-your-writes on the standby).
    RemoteApply,
}

async fn pool_on(url: &str, size: u32, settings: &[(&str, &str)]) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("{url} is not a PostgreSQL URL ({e})"))
        .application_name("eventsource-replica-tests")
        .options(settings.iter().copied());
    PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// A pool on the primary.
pub async fn primary_pool(size: u32, commits: Commits) -> PgPool {
    let mode = match commits {
        Commits::Asynchronous => "local",
        Commits::RemoteApply => "remote_apply",
    };
    pool_on(primary_url(), size, &[("synchronous_commit", mode)]).await
}

/// A pool on the standby.
pub async fn standby_pool(size: u32) -> PgPool {
    pool_on(standby_url(), size, &[]).await
}

/// A schema name of its own for one test store.
pub fn unique_schema() -> String {
    format!("es_replica_{:08x}", fastrand::u32(..))
}

/// A store migrated on the primary (waiting until the standby has the
/// schema), reading from the standby what `reads` names.
pub async fn store(
    primary: PgPool,
    standby: PgPool,
    reads: ReplicaReads,
    configure: impl FnOnce(PgStoreOptions) -> PgStoreOptions,
) -> PgEventStore {
    let options = configure(PgStoreOptions::new(&unique_schema()).expect("a valid schema name"));
    let store = PgEventStore::with_options(primary, options);
    store
        .migrate()
        .await
        .expect("migrations apply on the primary");
    wait_for_standby(store.pool(), &standby).await;
    store.with_replica(standby, reads)
}

/// Waits (bounded) until the standby has applied everything the primary
/// had written when this was called.
pub async fn wait_for_standby(primary: &PgPool, standby: &PgPool) {
    let lsn: String = sqlx::query_scalar("SELECT pg_current_wal_lsn()::text")
        .fetch_one(primary)
        .await
        .expect("the primary's WAL position");
    let started = Instant::now();
    loop {
        let caught_up: bool =
            sqlx::query_scalar("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn")
                .bind(&lsn)
                .fetch_one(standby)
                .await
                .expect("the standby's replay position");
        if caught_up {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the standby did not apply WAL up to {lsn} within two minutes"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Stops (`true`) or resumes (`false`) the standby's replay, and waits
/// until it has.
pub async fn pause_replay(standby: &PgPool, paused: bool) {
    let call = if paused {
        "SELECT pg_wal_replay_pause()"
    } else {
        "SELECT pg_wal_replay_resume()"
    };
    sqlx::query(call)
        .execute(standby)
        .await
        .expect("pause or resume the standby's replay");
    let want = if paused { "paused" } else { "not paused" };
    let started = Instant::now();
    loop {
        let state: String = sqlx::query_scalar("SELECT pg_get_wal_replay_pause_state()")
            .fetch_one(standby)
            .await
            .expect("the standby's replay state");
        if state == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the standby's replay stayed `{state}`, expected `{want}`"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The gap-free horizon of a server, as the store computes it.
pub async fn horizon(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint * 65536")
        .fetch_one(pool)
        .await
        .expect("a horizon")
}

/// Drops a test store's schema (on the primary).
pub async fn drop_schema(store: &PgEventStore) {
    let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", store.schema());
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("drop the test schema");
}
