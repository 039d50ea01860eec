//! What the disk and the server can do on their own, measured at the start
//! of a run so that the report says what the machine was like then: the
//! latency of one 8 kB WAL-style sync (`pg_test_fsync`) and the rate of
//! single-row inserts, each its own transaction, through `pgbench`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::measure::Settings;
use crate::pg::{self, Db};
use crate::report::figure;

/// The server's state as rows of the machine table.
pub(crate) fn state(
    rt: &tokio::runtime::Runtime,
    db: &Db,
    settings: &Settings,
) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let Some(bin) = bin_dir() else {
        rows.push((
            "disk and server ceilings".to_owned(),
            "not measured: no `pg_test_fsync` or `pgbench` on PATH or under \
             /usr/lib/postgresql/*/bin"
                .to_owned(),
        ));
        return rows;
    };
    let (method, data) = rt.block_on(async {
        let pool = pg::pool(db, 1).await;
        let method: String = sqlx::query_scalar("SELECT current_setting('wal_sync_method')")
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|_| "fdatasync".into());
        // Readable by superusers and `pg_read_all_settings` only.
        let data: Option<String> = sqlx::query_scalar("SELECT current_setting('data_directory')")
            .fetch_one(&pool)
            .await
            .ok();
        pool.close().await;
        (method, data)
    });
    eprintln!("machine: pg_test_fsync");
    rows.push((
        format!("`pg_test_fsync`, one 8 kB write, `{method}`"),
        fsync(&bin, &method, data.as_deref()).unwrap_or_else(|why| format!("not measured: {why}")),
    ));
    let seconds = settings.scaled(5, 1);
    for clients in [1, 16] {
        eprintln!("machine: pgbench, {clients} client(s)");
        let value = pgbench(rt, &bin, db, clients, seconds)
            .map(|tps| {
                format!(
                    "{} (`pgbench -M prepared -c {clients} -T {seconds}`, one single-row \
                     `INSERT` per transaction)",
                    figure(tps, "transactions/s")
                )
            })
            .unwrap_or_else(|why| format!("not measured: {why}"));
        rows.push((
            format!("single-row insert ceiling, {clients} client(s)"),
            value,
        ));
    }
    rows
}

/// Where `pgbench` and `pg_test_fsync` are: beside `pgbench` on PATH, else
/// the newest `/usr/lib/postgresql/*/bin`.
fn bin_dir() -> Option<PathBuf> {
    let has_both =
        |dir: &Path| dir.join("pgbench").is_file() && dir.join("pg_test_fsync").is_file();
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| has_both(dir));
    if on_path.is_some() {
        return on_path;
    }
    let mut dirs: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major: u32 = entry.file_name().to_str()?.parse().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_both(dir))
        .collect();
    dirs.sort();
    dirs.pop().map(|(_, dir)| dir)
}

/// `pg_test_fsync` for one second per test, in the system temporary
/// directory; its figure for one 8 kB write with `method`, and whether that
/// directory is on the device of the server's `data` directory.
fn fsync(bin: &Path, method: &str, data: Option<&str>) -> Result<String, String> {
    use std::os::unix::fs::MetadataExt as _;
    let dir = std::env::temp_dir();
    let device = |path: &Path| std::fs::metadata(path).ok().map(|m| m.dev());
    let place = match data.map(Path::new) {
        Some(data) => match (device(&dir), device(data)) {
            (Some(a), Some(b)) if a == b => "the device of the server's data directory",
            (Some(_), Some(_)) => "**not** the device of the server's data directory",
            _ => "a device not compared with the server's (its data directory is not visible here)",
        },
        None => "a device not compared with the server's (its data directory is not readable)",
    };
    let file = dir.join(format!("eventsource-fsync-{}", std::process::id()));
    let output = Command::new(bin.join("pg_test_fsync"))
        .args(["-s", "1", "-f"])
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run pg_test_fsync: {e}"))?;
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&output.stdout);
    // The first section compares the sync methods on one 8 kB write.
    let line = text
        .lines()
        .skip_while(|l| !l.contains("one 8kB write"))
        .find(|l| l.split_whitespace().next() == Some(method))
        .ok_or_else(|| format!("no `{method}` line in its output"))?;
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        [_, ops, "ops/sec", micros, "usecs/op"] => Ok(format!(
            "{micros} µs per sync ({ops} per second), in {}, on {place}",
            dir.display()
        )),
        _ => Err(format!("unexpected line `{}`", line.trim())),
    }
}

/// Transactions per second of `pgbench` inserting one row per transaction
/// from `clients` connections into a table of its own.
fn pgbench(
    rt: &tokio::runtime::Runtime,
    bin: &Path,
    db: &Db,
    clients: u32,
    seconds: u32,
) -> Result<f64, String> {
    let schema = pg::schema_name("pgbench");
    let script = std::env::temp_dir().join(format!("{schema}.sql"));
    std::fs::write(
        &script,
        format!(
            "\\set n random(1, 1000000000)\n\
             INSERT INTO \"{schema}\".rows (n, label) VALUES (:n, 'bench.MoneyDeposited');\n"
        ),
    )
    .map_err(|e| format!("cannot write the pgbench script: {e}"))?;
    let pool = rt.block_on(pg::pool(db, 1));
    rt.block_on(pg::execute(
        &pool,
        format!(
            "CREATE SCHEMA \"{schema}\"; \
             CREATE TABLE \"{schema}\".rows (id bigserial PRIMARY KEY, n bigint NOT NULL, \
             label text NOT NULL)"
        ),
    ));
    let output = Command::new(bin.join("pgbench"))
        .args(["-n", "-M", "prepared", "-c"])
        .arg(clients.to_string())
        .arg("-j")
        .arg(clients.min(2).to_string())
        .arg("-T")
        .arg(seconds.to_string())
        .arg("-f")
        .arg(&script)
        .arg(&db.url)
        .output();
    let _ = std::fs::remove_file(&script);
    rt.block_on(async {
        pg::drop_schema(&pool, &schema).await;
        pool.close().await;
    });
    let output = output.map_err(|e| format!("cannot run pgbench: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|tps| tps.parse().ok())
        .ok_or_else(|| {
            format!(
                "no tps in pgbench's output: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )
        })
}
