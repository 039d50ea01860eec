//! Interleaved measurement: a workload and its baselines alternate within one
//! run (A B B A ..., or rotating when there are more than two sides), so
//! drift and noise hit all of them, and the medians and the median of the
//! per-round ratios are reported.
//!
//! The ratio a target is judged on is the median of the per-round ratios:
//! the two sides of a round run back to back, so whatever the machine does
//! for longer than a round (another build, the disk's flush time drifting)
//! moves both and cancels in their ratio, and the median then discards the
//! rounds where something hit one side only. The ratio of the two medians
//! would pair a fast round of one side with a slow round of the other. Its
//! confidence range is a percentile bootstrap of that median.

use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// Rounds per comparison; each runs the workload and its baseline once.
    pub(crate) rounds: usize,
    /// Rounds for the comparisons whose one side takes seconds (the
    /// growth workloads).
    pub(crate) long_rounds: usize,
    /// The least time one side of a round runs for.
    pub(crate) round_time: Duration,
    /// Rounds for the compile-cost workload (each is a full crate build).
    pub(crate) build_rounds: usize,
    /// A smoke run: the workloads that prepare large data shrink it.
    pub(crate) quick: bool,
}

impl Settings {
    /// The settings for a full run.
    pub(crate) fn full() -> Self {
        Self {
            rounds: 15,
            long_rounds: 7,
            round_time: Duration::from_millis(300),
            build_rounds: 5,
            quick: false,
        }
    }

    /// Fewer, shorter rounds and smaller data: a smoke run, not for publishing.
    pub(crate) fn quick() -> Self {
        Self {
            rounds: 3,
            long_rounds: 2,
            round_time: Duration::from_millis(50),
            build_rounds: 1,
            quick: true,
        }
    }

    /// `full` in a full run, `quick` in a smoke run.
    pub(crate) fn scaled<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }
}

/// The median, range and confidence range of one series of per-round samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Summary {
    /// The median.
    pub(crate) median: f64,
    /// The smallest sample.
    pub(crate) min: f64,
    /// The largest sample.
    pub(crate) max: f64,
    /// A 95% percentile-bootstrap confidence range of the median.
    pub(crate) low: f64,
    /// Its upper end.
    pub(crate) high: f64,
    /// How many samples.
    pub(crate) samples: usize,
}

/// Bootstrap resamples for the confidence range of a median.
const RESAMPLES: usize = 2_000;

impl Summary {
    /// Summarises `samples` (empty: all zero).
    pub(crate) fn of(samples: &[f64]) -> Self {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| s.is_finite()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let (low, high) = bootstrap_median(&sorted);
        Self {
            median: median_of_sorted(&sorted),
            min: sorted.first().copied().unwrap_or(0.0),
            max: sorted.last().copied().unwrap_or(0.0),
            low,
            high,
            samples: n,
        }
    }

    /// A single exact value (for example an instruction count).
    pub(crate) fn exact(value: f64) -> Self {
        Self::of(&[value])
    }
}

fn median_of_sorted(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The 2.5th and 97.5th percentiles of the medians of `RESAMPLES` samples
/// drawn with replacement from `sorted` (a fixed seed: the same samples
/// give the same range).
fn bootstrap_median(sorted: &[f64]) -> (f64, f64) {
    let n = sorted.len();
    if n < 2 {
        let only = sorted.first().copied().unwrap_or(0.0);
        return (only, only);
    }
    let mut rng = fastrand::Rng::with_seed(0x5eed_5eed);
    let mut resample = vec![0.0; n];
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for slot in resample.iter_mut() {
                *slot = sorted[rng.usize(..n)];
            }
            resample.sort_by(f64::total_cmp);
            median_of_sorted(&resample)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let at = |q: f64| medians[((RESAMPLES as f64 - 1.0) * q).round() as usize];
    (at(0.025), at(0.975))
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

impl Comparison {
    /// From per-round samples of both sides, paired by round.
    pub(crate) fn of(ours: &[f64], baseline: &[f64]) -> Self {
        let ratios: Vec<f64> = ours.iter().zip(baseline).map(|(a, b)| a / b).collect();
        Self {
            ours: Summary::of(ours),
            baseline: Summary::of(baseline),
            ratio: Summary::of(&ratios),
        }
    }
}

/// Runs `ours` and `baseline` once each to warm up, then `rounds` times each,
/// alternating which goes first; each call returns one sample.
pub(crate) fn compare(
    rounds: usize,
    mut ours: impl FnMut() -> f64,
    mut baseline: impl FnMut() -> f64,
) -> Comparison {
    let samples = interleave(rounds, &mut [&mut ours, &mut baseline]);
    let comparison = Comparison::of(&samples[0], &samples[1]);
    progress(&comparison);
    comparison
}

/// Runs `sides[0]` (ours) and each baseline after it in the same rounds
/// (once each to warm up, then `rounds` times, the order rotating from round
/// to round); returns ours against each baseline, in order.
pub(crate) fn compare_with(
    rounds: usize,
    sides: &mut [&mut dyn FnMut() -> f64],
) -> Vec<Comparison> {
    let samples = interleave(rounds, sides);
    samples[1..]
        .iter()
        .map(|baseline| {
            let comparison = Comparison::of(&samples[0], baseline);
            progress(&comparison);
            comparison
        })
        .collect()
}

/// Per-round samples of each side: a warm-up call each, then `rounds`
/// rounds; with two sides the order alternates (A B B A ...), with more it
/// rotates, so that no side always runs first or last.
pub(crate) fn interleave(rounds: usize, sides: &mut [&mut dyn FnMut() -> f64]) -> Vec<Vec<f64>> {
    let count = sides.len();
    for side in sides.iter_mut() {
        side();
    }
    let mut samples: Vec<Vec<f64>> = (0..count)
        .map(|_| Vec::with_capacity(rounds.max(1)))
        .collect();
    for round in 0..rounds.max(1) {
        for step in 0..count {
            let at = (round + step) % count;
            samples[at].push(sides[at]());
        }
    }
    samples
}

/// Progress for whoever watches a long run; the report has the details.
pub(crate) fn progress(comparison: &Comparison) {
    eprintln!(
        "    {:.2} against {:.2}, ratio {:.3} [{:.3}–{:.3}]",
        comparison.ours.median,
        comparison.baseline.median,
        comparison.ratio.median,
        comparison.ratio.low,
        comparison.ratio.high
    );
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

/// The `q` quantile (0 to 1) of `values`, nearest rank; 0 when empty.
pub(crate) fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64) * q).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}
