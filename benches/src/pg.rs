//! The PostgreSQL server the PostgreSQL workloads run on: found at
//! `DATABASE_URL`, or started by `scripts/with-postgres`, which runs the
//! harness again with `DATABASE_URL` set (as `./scripts/test` does for the
//! tests). Every workload gets fresh schemas, dropped when it is done.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use eventsource_postgres::{PgEventStore, PgStoreOptions};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool};
use tokio::runtime::{Builder, Runtime};

/// Set by `scripts/with-postgres` in the environment of what it runs.
const WRAPPED: &str = "EVENTSOURCE_WITH_POSTGRES";

/// Benchmark schemas are named `es_bench_<unix seconds>_<tag><n>`.
const PREFIX: &str = "es_bench_";

/// A reachable server.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    /// Its URL.
    pub(crate) url: String,
    /// Its version and the settings that matter for the figures.
    pub(crate) description: String,
    /// The directory of its Unix socket, when the server runs on this
    /// machine and answers there; else why not.
    pub(crate) socket: Result<PathBuf, String>,
}

/// The settings that move the figures, as the report lists them.
const SETTINGS: &[&str] = &[
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "wal_level",
    "commit_delay",
    "shared_buffers",
    "wal_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "max_connections",
];

/// Whether the case with this key is wanted: all unless
/// `EVENTSOURCE_BENCH_CASES` lists keys (comma-separated), for profiling one
/// case at a time.
pub(crate) fn case_wanted(key: &str) -> bool {
    match std::env::var("EVENTSOURCE_BENCH_CASES") {
        Ok(list) if !list.trim().is_empty() => list.split(',').any(|k| k.trim() == key),
        _ => true,
    }
}

/// A multi-threaded runtime (two workers, one per core) for the PostgreSQL
/// workloads: the client and the server share the machine.
pub(crate) fn runtime() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// The server at `DATABASE_URL`, if it is set and answers.
pub(crate) fn find(rt: &Runtime) -> Result<Db, String> {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => return Err("DATABASE_URL is not set".into()),
    };
    rt.block_on(async {
        let connect = PgConnection::connect(&url);
        let mut conn = match tokio::time::timeout(Duration::from_secs(5), connect).await {
            Ok(Ok(conn)) => conn,
            Ok(Err(error)) => return Err(format!("cannot connect to DATABASE_URL: {error}")),
            Err(_) => return Err("DATABASE_URL did not answer within 5 s".into()),
        };
        let version: String = sqlx::query_scalar("SELECT current_setting('server_version')")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("cannot query the server: {e}"))?;
        let settings: Vec<(String, String)> = sqlx::query_as(
            "SELECT name, current_setting(name) FROM unnest($1::text[]) WITH ORDINALITY AS s(name, n) \
             ORDER BY n",
        )
        .bind(SETTINGS)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| format!("cannot query the server: {e}"))?;
        let settings: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // The URL's `sslmode` decides; sqlx's default takes TLS when the
        // server offers it, and every side of every row then pays for it.
        let tls: Option<String> = sqlx::query_scalar(
            "SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl",
        )
        .fetch_optional(&mut conn)
        .await
        .map_err(|e| format!("cannot query the server: {e}"))?
        .flatten();
        let transport = match tls {
            Some(version) => format!("TCP with {version} (every connection of the run)"),
            None => "TCP without TLS".to_owned(),
        };
        let socket = socket_dir(&mut conn, &url).await;
        let description = format!(
            "{version} on the same machine, reached over {transport}, `TCP_NODELAY` on ({})",
            settings.join(", ")
        );
        let _ = conn.close().await;
        Ok(Db {
            url,
            description,
            socket,
        })
    })
}

/// The directory of the server's Unix socket, if the URL names this machine,
/// the socket is there and a connection through it succeeds.
async fn socket_dir(conn: &mut PgConnection, url: &str) -> Result<PathBuf, String> {
    let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    let host = options.get_host();
    if !matches!(host, "localhost" | "127.0.0.1" | "::1") && !host.starts_with('/') {
        return Err(format!("the server is on another host ({host})"));
    }
    let (dirs, port): (String, String) = sqlx::query_as(
        "SELECT current_setting('unix_socket_directories'), current_setting('port')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| e.to_string())?;
    let dir = dirs
        .split(',')
        .map(|d| PathBuf::from(d.trim()))
        .find(|d| d.join(format!(".s.PGSQL.{port}")).exists())
        .ok_or_else(|| format!("no socket .s.PGSQL.{port} in `{dirs}`"))?;
    let port: u16 = port.parse().map_err(|_| format!("port `{port}`"))?;
    let options = options.socket(&dir).port(port);
    let connect = PgConnection::connect_with(&options);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(dir)
        }
        Ok(Err(error)) => Err(format!("cannot connect through {}: {error}", dir.display())),
        Err(_) => Err(format!("{} did not answer within 5 s", dir.display())),
    }
}

/// Whether this process already runs under `scripts/with-postgres`.
pub(crate) fn wrapped() -> bool {
    std::env::var_os(WRAPPED).is_some()
}

/// Runs this harness again, with the same arguments, under
/// `scripts/with-postgres`, which finds or starts a server.
pub(crate) fn rerun_with_postgres(root: &Path, args: &[String]) -> ExitCode {
    let script = root.join("scripts").join("with-postgres");
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => {
            eprintln!("cannot find the harness executable: {error}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "no reachable DATABASE_URL: running again under {}",
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

/// A pool of up to `size` connections that does not ping connections
/// before handing them out and turns on `TCP_NODELAY` (as
/// `PgEventStore::connect` builds it): every side of every comparison
/// runs on such connections.
pub(crate) async fn pool(db: &Db, size: u32) -> PgPool {
    let options = PgConnectOptions::from_str(&db.url).expect("DATABASE_URL is a PostgreSQL URL");
    pool_with(options, size)
        .await
        .expect("connect to DATABASE_URL")
}

async fn pool_with(options: PgConnectOptions, size: u32) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(size)
        .min_connections(size)
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                eventsource_postgres::tcp_nodelay(conn).await?;
                Ok(())
            })
        })
        .connect_with(options.application_name("eventsource-bench"))
        .await
}

/// [`pool`] whose connections set `options` (name, value) at start-up, over
/// the server's Unix socket when it has one (see [`Db::socket`]).
pub(crate) async fn pool_with_settings(db: &Db, size: u32, settings: &[(&str, &str)]) -> PgPool {
    let options = PgConnectOptions::from_str(&db.url)
        .expect("DATABASE_URL is a PostgreSQL URL")
        .options(settings.iter().copied());
    let options = match &db.socket {
        Ok(dir) => options.socket(dir),
        Err(_) => options,
    };
    pool_with(options, size)
        .await
        .expect("connect to DATABASE_URL")
}

/// [`pool`] over the server's Unix socket, when it has one (see [`Db::socket`]).
pub(crate) async fn socket_pool(db: &Db, size: u32) -> Result<PgPool, String> {
    let dir = db.socket.as_ref().map_err(Clone::clone)?;
    let options = PgConnectOptions::from_str(&db.url).map_err(|e| e.to_string())?;
    pool_with(options.socket(dir), size)
        .await
        .map_err(|e| format!("cannot connect through {}: {e}", dir.display()))
}

/// A new schema name, unique in this run.
pub(crate) fn schema_name(tag: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{PREFIX}{secs}_{tag}{n}")
}

/// A migrated store under a new schema.
pub(crate) async fn store(
    pool: &PgPool,
    tag: &str,
    configure: impl FnOnce(PgStoreOptions) -> PgStoreOptions,
) -> PgEventStore {
    let options = configure(PgStoreOptions::new(&schema_name(tag)).expect("a valid schema name"));
    let store = PgEventStore::with_options(pool.clone(), options);
    store.migrate().await.expect("the migrations apply");
    store
}

/// Runs `sql` (fixed text and validated schema names only).
pub(crate) async fn execute(pool: &PgPool, sql: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Drops `schema` and everything in it.
pub(crate) async fn drop_schema(pool: &PgPool, schema: &str) {
    execute(pool, format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
}

/// Drops benchmark schemas older than an hour (left by runs that crashed).
pub(crate) async fn sweep(pool: &PgPool) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let names: Vec<String> =
        sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
            .bind(PREFIX)
            .fetch_all(pool)
            .await
            .unwrap_or_default();
    for name in names {
        let created = name[PREFIX.len()..]
            .split('_')
            .next()
            .and_then(|s| s.parse::<u64>().ok());
        if created.is_some_and(|t| t + 3_600 < now) {
            drop_schema(pool, &name).await;
        }
    }
}

/// `VACUUM ANALYZE` on a schema's tables, so every round of a comparison
/// starts from statistics that match the data.
pub(crate) async fn analyze(pool: &PgPool, schema: &str, tables: &[&str]) {
    for table in tables {
        execute(pool, format!("VACUUM ANALYZE \"{schema}\".{table}")).await;
    }
}
