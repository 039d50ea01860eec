//! Smoke test of the walkthrough: runs the `orders` binary as the README's
//! `cargo run -p orders` does, in memory and on PostgreSQL, and checks that
//! it succeeds and prints what each step is meant to show.
//!
//! The PostgreSQL run needs `DATABASE_URL` (as `./scripts/test` provides) and
//! fails without it. It gives the binary a schema of its own through
//! `ORDERS_SCHEMA`, runs it twice there (a second run resumes from the
//! first run's checkpoints and saga state) and drops the schema afterwards,
//! so concurrent test runs do not meet.

#[path = "../../support/walkthrough.rs"]
mod walkthrough;

use walkthrough::{Example, assert_line, assert_line_between};

const EXAMPLE: Example = Example {
    name: "orders",
    exe: env!("CARGO_BIN_EXE_orders"),
    schema_var: "ORDERS_SCHEMA",
};

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
    let stdout = EXAMPLE.run(None, None);
    assert_line(&stdout, "eventsource orders walkthrough (store: in memory)");
    assert_walkthrough(&stdout, "orders.summary.memory");
}

#[test]
fn walkthrough_on_postgres() {
    EXAMPLE.run_twice_on_postgres(|stdout| assert_walkthrough(stdout, "orders.summary.postgres"));
}
