//! What the examples' walkthrough smoke tests share: running an example's
//! binary as `cargo run -p <example>` does, checking its output line by
//! line, and a PostgreSQL schema of its own that is dropped afterwards.
//!
//! Included by each example's `tests/walkthrough.rs` with `#[path]`; not
//! every example uses every part.

#![allow(dead_code)]

use std::process::{Command, Output};

use sqlx::Connection;

/// One example binary and the variable that names its PostgreSQL schema.
pub(crate) struct Example {
    /// The crate name, for messages.
    pub(crate) name: &'static str,
    /// The built binary (`env!("CARGO_BIN_EXE_<name>")`).
    pub(crate) exe: &'static str,
    /// The environment variable the example reads its schema from.
    pub(crate) schema_var: &'static str,
}

impl Example {
    /// Runs the binary with `DATABASE_URL` and the schema variable as given
    /// (removed when `None`) and returns its output, after checking it
    /// exited with 0.
    pub(crate) fn run(&self, database_url: Option<&str>, schema: Option<&str>) -> String {
        let mut command = Command::new(self.exe);
        // The default filter (warnings only) keeps tracing output out of the way.
        command.env_remove("RUST_LOG");
        for (key, value) in [("DATABASE_URL", database_url), (self.schema_var, schema)] {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run the {} example: {e}", self.name));
        let Output {
            status,
            stdout,
            stderr,
        } = output;
        let stdout = String::from_utf8_lossy(&stdout).into_owned();
        let stderr = String::from_utf8_lossy(&stderr);
        assert!(
            status.success(),
            "the {} example failed ({status})\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
            self.name
        );
        stdout
    }

    /// Runs the example twice on PostgreSQL in a fresh schema (a second run
    /// on a used schema must work too), checking each run's heading and
    /// then the rest with `check`; the schema is dropped afterwards.
    pub(crate) fn run_twice_on_postgres(&self, check: impl Fn(&str)) {
        self.run_on(database_url(self.name), &["first", "second"], check);
    }

    /// Runs the example once on the TLS-only server of
    /// `scripts/with-tls-postgres`, with `sslmode=verify-full` and the
    /// server's CA in `DATABASE_URL`, as against a managed server.
    pub(crate) fn run_over_tls(&self, check: impl Fn(&str)) {
        let url = format!(
            "{}?sslmode=verify-full&sslrootcert={}",
            tls_env(self.name, "EVENTSOURCE_TLS_URL"),
            tls_env(self.name, "EVENTSOURCE_TLS_CA")
        );
        self.run_on(url, &["TLS"], check);
    }

    /// Runs the example once per name in `runs` on the server at `url`, in
    /// a fresh schema, as [`Example::run_twice_on_postgres`] describes.
    fn run_on(&self, url: String, runs: &[&str], check: impl Fn(&str)) {
        let schema = format!(
            "{}_smoke_{}",
            self.name,
            eventsource::uuid::Uuid::now_v7().simple()
        );
        let _cleanup = DropSchema {
            url: url.clone(),
            schema: schema.clone(),
        };
        let heading = format!(
            "eventsource {} walkthrough (store: PostgreSQL, schema {schema})",
            self.name
        );
        for run in runs {
            let stdout = self.run(Some(&url), Some(&schema));
            assert!(
                stdout.lines().any(|line| line.trim() == heading),
                "{run} run: no heading {heading:?} in:\n{stdout}"
            );
            check(&stdout);
        }
    }
}

/// `DATABASE_URL`, or a failure saying how to get a server: never a skip.
pub(crate) fn database_url(example: &str) -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "DATABASE_URL is not set: this test runs the {example} example on PostgreSQL; set \
             DATABASE_URL or run ./scripts/test, which finds or starts a server"
        ),
    }
}

/// A variable `scripts/with-tls-postgres` sets, or a failure saying how to
/// get its server.
fn tls_env(example: &str, name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{name} is not set: this test runs the {example} example on a PostgreSQL server \
             with TLS; run ./scripts/test, which starts one (it needs openssl and the \
             PostgreSQL server binaries)"
        ),
    }
}

/// Checks that `stdout` has a line that reads `expected` (leading and
/// trailing white space aside).
pub(crate) fn assert_line(stdout: &str, expected: &str) {
    assert!(
        stdout.lines().any(|line| line.trim() == expected),
        "no line reads {expected:?} in:\n{stdout}"
    );
}

/// Checks that `stdout` has a line starting with `start` and ending with
/// `end`, for lines holding a per-run id or a store-specific position.
pub(crate) fn assert_line_between(stdout: &str, start: &str, end: &str) {
    assert!(
        stdout
            .lines()
            .map(str::trim)
            .any(|line| line.starts_with(start)
                && line.ends_with(end)
                && line.len() >= start.len() + end.len()),
        "no line reads {start:?} ... {end:?} in:\n{stdout}"
    );
}

/// Drops its schema when the test ends, passed or failed.
struct DropSchema {
    url: String,
    schema: String,
}

impl Drop for DropSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema);
        let dropped = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(sqlx::Error::from)
            .and_then(|runtime| {
                runtime.block_on(async {
                    let mut conn = sqlx::PgConnection::connect(&self.url).await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await?;
                    conn.close().await
                })
            });
        if let Err(error) = dropped {
            // Not a panic: this may run while a failed assertion unwinds.
            eprintln!("could not drop schema {}: {error}", self.schema);
        }
    }
}
