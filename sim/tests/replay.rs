//! A seed replays exactly, and runs without faults in the runtime pass.

use eventsource_sim::{Shape, run_seed};

#[test]
fn a_seed_replays_with_the_same_trace_and_outcome() {
    let mut hashes = Vec::new();
    for seed in [1, 2, 3, 425, 3765] {
        let first = run_seed(seed, Shape::default(), None);
        let again = run_seed(seed, Shape::default(), None);
        assert_eq!(
            first.trace_hash, again.trace_hash,
            "seed {seed} ran differently the second time"
        );
        assert_eq!(first.violations, again.violations, "seed {seed}");
        assert_eq!(
            (first.events, first.faults, first.crashes),
            (again.events, again.faults, again.crashes),
            "seed {seed}"
        );
        assert!(first.faults > 0, "seed {seed} injected no fault");
        hashes.push(first.trace_hash);
    }
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(hashes.len(), 5, "two seeds ran the same way");
}

#[test]
fn a_short_run_keeps_every_invariant() {
    let mut crashes = 0;
    for seed in 0..60 {
        let report = run_seed(seed, Shape::default(), None);
        assert!(
            report.violations.is_empty(),
            "seed {seed} failed: {:?}\nreplay: cargo run --release -p eventsource-sim -- --seed {seed}",
            report.violations
        );
        crashes += report.crashes;
    }
    assert!(crashes > 0, "no run crashed anything");
}
