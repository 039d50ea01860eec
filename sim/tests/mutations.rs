//! The simulation has teeth: each known bug of the runtime, switched back
//! on (feature `sim-mutations`), is found within the default seed count,
//! and the failing seed replays identically.

use eventsource_sim::{DEFAULT_SEEDS, Mutation, Report, Shape, run_seed};

/// The first failing seed with `mutation` on.
fn first_failure(mutation: Mutation) -> Report {
    for seed in 0..DEFAULT_SEEDS {
        let report = run_seed(seed, Shape::default(), Some(mutation));
        if !report.violations.is_empty() {
            let again = run_seed(seed, Shape::default(), Some(mutation));
            assert_eq!(
                report.trace_hash, again.trace_hash,
                "seed {seed} replays differently"
            );
            assert_eq!(report.violations, again.violations, "seed {seed}");
            // The same seed with the bug off passes.
            let fixed = run_seed(seed, Shape::default(), None);
            assert!(
                fixed.violations.is_empty(),
                "seed {seed} fails without the bug: {:?}",
                fixed.violations
            );
            return report;
        }
    }
    panic!(
        "mutation `{}` survived {DEFAULT_SEEDS} seeds",
        mutation.name()
    );
}

fn found(mutation: Mutation, expected: &str) {
    let report = first_failure(mutation);
    assert!(
        report.violations.iter().any(|v| v.contains(expected)),
        "seed {} found `{}` as {:?}, not as `{expected}`",
        report.seed,
        mutation.name(),
        report.violations
    );
}

#[test]
fn checkpoint_written_before_the_read_model_is_found() {
    found(Mutation::CheckpointBeforeReadModel, "balances");
}

#[test]
fn a_lease_that_does_not_fence_commits_is_found() {
    found(Mutation::UnfencedLease, "fencing");
}

#[test]
fn a_retry_deciding_on_a_stale_version_is_found() {
    found(Mutation::StaleRetry, "stale state");
}

#[test]
fn an_append_retried_after_a_lost_reply_stored_twice_is_found() {
    found(Mutation::ReplayedAppendStoredAgain, "stored twice");
}

#[test]
fn a_deadline_fired_again_under_a_fresh_event_id_is_found() {
    found(Mutation::DeadlineFiredTwice, "more than once");
}
