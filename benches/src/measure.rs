//! Interleaved measurement: a workload and its baseline alternate within one
//! run (A B B A ...), so drift and noise hit both, and the medians and the
//! median of the per-round ratios are reported.

use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Rounds per comparison; each runs the workload and its baseline once.
    pub(crate) rounds: usize,
    /// The least time one side of a round runs for.
    pub(crate) round_time: Duration,
    /// Rounds for the compile-cost workload (each is a full crate build).
    pub(crate) build_rounds: usize,
}

impl Settings {
    /// The settings for a full run.
    pub(crate) fn full() -> Self {
        Self {
            rounds: 15,
            round_time: Duration::from_millis(300),
            build_rounds: 5,
        }
    }

    /// Fewer, shorter rounds: a smoke run, not for publishing.
    pub(crate) fn quick() -> Self {
        Self {
            rounds: 3,
            round_time: Duration::from_millis(50),
            build_rounds: 1,
        }
    }
}

/// The median and range of one series of per-round samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    /// The median.
    pub(crate) median: f64,
    /// The smallest sample.
    pub(crate) min: f64,
    /// The largest sample.
    pub(crate) max: f64,
    /// How many samples.
    pub(crate) samples: usize,
}

impl Summary {
    /// Summarises `samples` (empty: all zero).
    pub(crate) fn of(samples: &[f64]) -> Self {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| s.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => sorted[n / 2],
            _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Self {
            median,
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            samples: n,
        }
    }

    /// A single exact value (for example an instruction count).
    pub(crate) fn exact(value: f64) -> Self {
        Self::of(&[value])
    }
}

/// A workload against its baseline, measured in the same rounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Comparison {
    /// The workload's samples.
    pub(crate) ours: Summary,
    /// The baseline's samples.
    pub(crate) baseline: Summary,
    /// `ours / baseline`, per round.
    pub(crate) ratio: Summary,
}

/// Runs `ours` and `baseline` once each to warm up, then `rounds` times each,
/// alternating which goes first; each call returns one sample.
pub(crate) fn compare(
    rounds: usize,
    mut ours: impl FnMut() -> f64,
    mut baseline: impl FnMut() -> f64,
) -> Comparison {
    ours();
    baseline();
    let mut a = Vec::with_capacity(rounds);
    let mut b = Vec::with_capacity(rounds);
    for round in 0..rounds.max(1) {
        if round % 2 == 0 {
            a.push(ours());
            b.push(baseline());
        } else {
            b.push(baseline());
            a.push(ours());
        }
    }
    let ratios: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a / b).collect();
    let comparison = Comparison {
        ours: Summary::of(&a),
        baseline: Summary::of(&b),
        ratio: Summary::of(&ratios),
    };
    // Progress for whoever watches a long run; the report has the details.
    eprintln!(
        "    {:.0} against {:.0} per second, ratio {:.3}",
        comparison.ours.median, comparison.baseline.median, comparison.ratio.median
    );
    comparison
}

/// Runs `iteration` until `at_least` has passed (and at least once); returns
/// the units per second, where each call returns the units it processed.
pub(crate) fn rate(at_least: Duration, mut iteration: impl FnMut() -> u64) -> f64 {
    let start = Instant::now();
    let mut units = 0u64;
    loop {
        units += iteration();
        let elapsed = start.elapsed();
        if elapsed >= at_least {
            return units as f64 / elapsed.as_secs_f64();
        }
    }
}
