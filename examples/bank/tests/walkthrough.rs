//! Smoke test of the walkthrough: runs the `bank` binary as the README's
//! `cargo run -p bank` does, in memory and on PostgreSQL, and checks that it
//! succeeds and prints what each step is meant to show.
//!
//! The PostgreSQL runs need `DATABASE_URL` and, for the run over TLS, the
//! server of `scripts/with-tls-postgres` (as `./scripts/test` provides both),
//! and fail without them. It gives the binary a schema of its own through
//! `BANK_SCHEMA`, runs it twice there (a second run on a used schema must
//! work too) and drops the schema afterwards, so concurrent test runs do not
//! meet.

#[path = "../../support/walkthrough.rs"]
mod walkthrough;

use walkthrough::{Example, assert_line};

const EXAMPLE: Example = Example {
    name: "bank",
    exe: env!("CARGO_BIN_EXE_bank"),
    schema_var: "BANK_SCHEMA",
};

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
    let stdout = EXAMPLE.run(None, None);
    assert_line(&stdout, "eventsource bank walkthrough (store: in memory)");
    assert_walkthrough(&stdout);
}

#[test]
fn walkthrough_on_postgres() {
    EXAMPLE.run_twice_on_postgres(assert_walkthrough);
}

#[test]
fn walkthrough_on_postgres_over_tls_with_verify_full() {
    EXAMPLE.run_over_tls(assert_walkthrough);
}
