//! Smoke test of the walkthrough: runs the `orders` binary as the README's
//! `cargo run -p orders` does, in memory and on PostgreSQL, and checks that
//! it succeeds and prints what each step is meant to show.
//!
//! The PostgreSQL run needs `DATABASE_URL` (as `./scripts/test` provides) and
//! fails without it. It gives the binary a schema of its own through
//! `ORDERS_SCHEMA`, runs it twice there (a second run resumes from the
//! first run's checkpoints and saga state) and drops the schema afterwards,
//! so concurrent test runs do not meet.

use std::process::{Command, Output};

use sqlx::Connection;

/// Runs the binary with `DATABASE_URL` and `ORDERS_SCHEMA` as given (removed
/// when `None`) and returns its output, after checking it exited with 0.
fn run_orders(database_url: Option<&str>, schema: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orders"));
    // The default filter (warnings only) keeps tracing output out of the way.
    command.env_remove("RUST_LOG");
    for (key, value) in [("DATABASE_URL", database_url), ("ORDERS_SCHEMA", schema)] {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the orders example: {e}"));
    let Output {
        status,
        stdout,
        stderr,
    } = output;
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(
        status.success(),
        "the orders example failed ({status})\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

/// Checks that `stdout` has a line that reads `expected` (leading and
/// trailing white space aside).
fn assert_line(stdout: &str, expected: &str) {
    assert!(
        stdout.lines().any(|line| line.trim() == expected),
        "no line reads {expected:?} in:\n{stdout}"
    );
}

/// Checks that `stdout` has a line starting with `start` and ending with
/// `end`, for lines holding a per-run id or a store-specific position.
fn assert_line_between(stdout: &str, start: &str, end: &str) {
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

/// The lines every run prints; `summary` is the summary projection's name.
fn assert_walkthrough(stdout: &str, summary: &str) {
    assert_line(stdout, "Stocked 20 tea in warehouse `main`.");

    // 1: the saga reserves, takes the payment and approves; then it ships.
    assert_line_between(stdout, "placed and submitted order-1-", "");
    assert_line(stdout, "the saga drove it to Approved");
    assert_line_between(
        stdout,
        "summary: order-1-",
        " | 1 line(s) | total 5000 | shipped",
    );

    // 2: the payment is declined and the saga compensates.
    assert_line_between(stdout, "placed and submitted order-2-", "");
    assert_line(
        stdout,
        "the saga released the stock and moved it to Cancelled",
    );
    assert_line_between(
        stdout,
        "summary: order-2-",
        " | 1 line(s) | total 150000 | cancelled (card declined for 150000 cents)",
    );

    // 3: a cancelled order refuses to be submitted.
    assert_line(
        stdout,
        "submitting it now is refused: the order is Cancelled; cannot submit",
    );
    assert_line_between(
        stdout,
        "summary: order-3-",
        " | 0 line(s) | total 0 | cancelled (changed my mind)",
    );

    // 4: both processors have caught up, with nothing parked.
    for name in ["orders.fulfilment", summary] {
        assert_line_between(stdout, &format!("{name}: "), ", lag 0, parked 0");
    }
}

#[test]
fn walkthrough_in_memory() {
    let stdout = run_orders(None, None);
    assert_line(&stdout, "eventsource orders walkthrough (store: in memory)");
    assert_walkthrough(&stdout, "orders.summary.memory");
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

#[test]
fn walkthrough_on_postgres() {
    let url = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "DATABASE_URL is not set: this test runs the orders example on PostgreSQL; set \
             DATABASE_URL or run ./scripts/test, which finds or starts a server"
        ),
    };
    let schema = format!(
        "orders_smoke_{}",
        eventsource::uuid::Uuid::now_v7().simple()
    );
    let _cleanup = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let heading = format!("eventsource orders walkthrough (store: PostgreSQL, schema {schema})");
    for run in ["first", "second"] {
        let stdout = run_orders(Some(&url), Some(&schema));
        assert!(
            stdout.lines().any(|line| line.trim() == heading),
            "{run} run: no heading {heading:?} in:\n{stdout}"
        );
        assert_walkthrough(&stdout, "orders.summary.postgres");
    }
}
