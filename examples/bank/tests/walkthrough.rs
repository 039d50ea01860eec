//! Smoke test of the walkthrough: runs the `bank` binary as the README's
//! `cargo run -p bank` does, in memory and on PostgreSQL, and checks that it
//! succeeds and prints what each step is meant to show.
//!
//! The PostgreSQL run needs `DATABASE_URL` (as `./scripts/test` provides) and
//! fails without it. It gives the binary a schema of its own through
//! `BANK_SCHEMA`, runs it twice there (a second run on a used schema must
//! work too) and drops the schema afterwards, so concurrent test runs do not
//! meet.

use std::process::{Command, Output};

use sqlx::Connection;

/// Runs the binary with `DATABASE_URL` and `BANK_SCHEMA` as given (removed
/// when `None`) and returns its output, after checking it exited with 0.
fn run_bank(database_url: Option<&str>, schema: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bank"));
    // The default filter (warnings only) keeps tracing output out of the way.
    command.env_remove("RUST_LOG");
    for (key, value) in [("DATABASE_URL", database_url), ("BANK_SCHEMA", schema)] {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run the bank example: {e}"));
    let Output {
        status,
        stdout,
        stderr,
    } = output;
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr);
    assert!(
        status.success(),
        "the bank example failed ({status})\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    stdout
}

/// Whether `stdout` has a line that reads `expected` (leading and trailing
/// white space aside).
fn assert_line(stdout: &str, expected: &str) {
    assert!(
        stdout.lines().any(|line| line.trim() == expected),
        "no line reads {expected:?} in:\n{stdout}"
    );
}

/// The lines every run prints, whatever the store.
fn assert_walkthrough(stdout: &str) {
    // 1 and 2: open, deposit, withdraw.
    assert_line(stdout, "deposit 100  -> balance  100 (version 2)");
    assert_line(stdout, "withdraw 30  -> balance   70 (version 3)");

    // 3: the overdraft, refused with the domain's error.
    assert_line(
        stdout,
        "withdraw 500 -> rejected: insufficient funds: balance 70, overdraft limit 50, requested 500",
    );

    // 4: two withdrawals race; which one wins is up to the scheduler, but
    // exactly one appends first time and the other conflicts, reloads and
    // retries, landing on version 5, where the snapshot policy fires.
    let racing: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("withdrawal "))
        .collect();
    assert_eq!(racing.len(), 2, "two racing withdrawals in:\n{stdout}");
    let won = racing
        .iter()
        .filter(|line| line.ends_with(": version 4 after 1 attempt(s)"))
        .count();
    let retried = racing
        .iter()
        .filter(|line| {
            line.ends_with(
                ": version 5 after 2 attempt(s)  <- conflicted, reloaded and retried; \
                 saved a snapshot (every 5 events)",
            )
        })
        .count();
    assert_eq!(
        (won, retried),
        (1, 1),
        "one withdrawal should win and one be retried:\n{}",
        racing.join("\n")
    );
    assert_line(stdout, "balance now 25 at version 5");

    // 5: temporal loads, by version and by the stored time.
    assert_line(stdout, "as of version 2: balance 100");
    assert_line(
        stdout,
        "as of the end of step 2 (the time stored with its last event): balance 70 at version 3",
    );

    // 6: the snapshot taken at version 5 is used by the next load.
    assert_line(stdout, "deposit 45 -> version 6");
    assert_line(
        stdout,
        "load: started from the snapshot at version 5, applied 1 event(s), balance 70",
    );
    assert_line(
        stdout,
        "closing it now is refused: cannot close an account holding 70",
    );

    // 7: records stored in an old shape and under an old name.
    assert_line(
        stdout,
        "it loads through the upcaster and the alias: owner Grace, overdraft limit 0, balance 380",
    );

    // 8: the registry lists the upcaster that did it.
    assert_line(
        stdout,
        "bank.AccountOpened  1 -> 2  bank::domain::account_opened_v1",
    );
}

#[test]
fn walkthrough_in_memory() {
    let stdout = run_bank(None, None);
    assert_line(&stdout, "eventsource bank walkthrough (store: in memory)");
    assert_walkthrough(&stdout);
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
            "DATABASE_URL is not set: this test runs the bank example on PostgreSQL; set \
             DATABASE_URL or run ./scripts/test, which finds or starts a server"
        ),
    };
    let schema = format!("bank_smoke_{}", eventsource::uuid::Uuid::now_v7().simple());
    let _cleanup = DropSchema {
        url: url.clone(),
        schema: schema.clone(),
    };
    let heading = format!("eventsource bank walkthrough (store: PostgreSQL, schema {schema})");
    for run in ["first", "second"] {
        let stdout = run_bank(Some(&url), Some(&schema));
        assert!(
            stdout.lines().any(|line| line.trim() == heading),
            "{run} run: no heading {heading:?} in:\n{stdout}"
        );
        assert_walkthrough(&stdout);
    }
}
