//! The seeded source of every fault: delays, transient errors and lost
//! replies at each call into a store, and broken subscriptions.
//!
//! Each decision draws from one generator seeded by the run's seed and is
//! recorded in the run's trace with the simulated time it was made at, so
//! a replay of the seed makes the same decisions at the same moments.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use eventsource::StoreError;
use eventsource::clock::Clock;
use tokio::time::Instant;

use crate::trace::Trace;

/// Whether every trace entry is printed as it is recorded (`--trace`).
pub static PRINT: AtomicBool = AtomicBool::new(false);

/// How often each fault strikes, per call, while faults are on.
#[derive(Clone, Copy, Debug)]
pub struct Rates {
    /// A short delay (up to 20 ms): other tasks run in between.
    pub delay: f64,
    /// A long delay (1.5 s to 4 s): longer than a lease, as a frozen process.
    pub stall: f64,
    /// A transient error before the call reaches the store.
    pub error: f64,
    /// The call took effect, but the caller sees an error.
    pub lost_reply: f64,
}

impl Rates {
    /// Rates scaled by `intensity` (each seed draws its own).
    pub fn scaled(intensity: f64) -> Self {
        Self {
            delay: (0.25 * intensity).min(0.9),
            stall: 0.004 * intensity,
            error: 0.02 * intensity,
            lost_reply: 0.02 * intensity,
        }
    }
}

/// Faults for one run, shared by every wrapped store.
#[derive(Clone, Debug)]
pub struct Faults {
    inner: Arc<Mutex<Inner>>,
    clock: Clock,
}

#[derive(Debug)]
struct Inner {
    random: fastrand::Rng,
    rates: Rates,
    on: bool,
    start: Instant,
    trace: Trace,
    injected: u64,
}

/// What was decided for one call.
#[derive(Clone, Copy, Debug, Default)]
struct Decision {
    delay: Option<Duration>,
    fail: bool,
}

impl Faults {
    /// Faults drawn from `seed`, at `rates`, timed by `clock`.
    pub fn new(seed: u64, rates: Rates, clock: Clock) -> Self {
        let start = clock.instant();
        Self {
            inner: Arc::new(Mutex::new(Inner {
                random: fastrand::Rng::with_seed(seed ^ 0x5eed_fa17),
                rates,
                on: true,
                start,
                trace: Trace::default(),
                injected: 0,
            })),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A decision cannot leave the state half-changed.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops injecting faults (the run heals); decisions are still traced.
    pub fn heal(&self) {
        self.lock().on = false;
    }

    /// Records an entry in the run's trace, stamped with the simulated time.
    pub fn record(&self, entry: impl std::fmt::Display) {
        let now = self.clock.instant();
        let mut inner = self.lock();
        let at = now.saturating_duration_since(inner.start).as_micros();
        let line = format!("{at} {entry}");
        if PRINT.load(Ordering::Relaxed) {
            println!("  trace: {line}");
        }
        inner.trace.record(&line);
    }

    /// The trace so far.
    pub fn trace(&self) -> Trace {
        self.lock().trace.clone()
    }

    /// How many faults were injected.
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    /// A draw in `0..bound` from the run's generator, for the scheduler
    /// and the scripts.
    pub fn below(&self, bound: u64) -> u64 {
        self.lock().random.u64(0..bound.max(1))
    }

    fn decide(&self, op: &str, error_rate: f64) -> Decision {
        let decision = {
            let mut inner = self.lock();
            if !inner.on {
                Decision::default()
            } else {
                let rates = inner.rates;
                let draw = inner.random.f64();
                let delay = if draw < rates.stall {
                    Some(Duration::from_millis(1500 + inner.random.u64(0..2500)))
                } else if draw < rates.stall + rates.delay {
                    Some(Duration::from_micros(inner.random.u64(1..20_000)))
                } else {
                    None
                };
                let fail = inner.random.f64() < error_rate;
                if fail || delay.is_some() {
                    inner.injected += 1;
                }
                Decision { delay, fail }
            }
        };
        if decision.fail || decision.delay.is_some() {
            self.record(format_args!(
                "{op} delay={:?} fail={}",
                decision.delay, decision.fail
            ));
        }
        decision
    }

    async fn apply(&self, op: &str, decision: Decision, what: &str) -> Result<(), StoreError> {
        if let Some(delay) = decision.delay {
            self.clock.sleep(delay).await;
        }
        if decision.fail {
            return Err(StoreError::Connection(
                format!("simulated {what} in {op}").into(),
            ));
        }
        Ok(())
    }

    /// Before a call reaches the store: maybe a delay, maybe an error.
    pub async fn before(&self, op: &str) -> Result<(), StoreError> {
        let rate = self.lock().rates.error;
        let decision = self.decide(op, rate);
        self.apply(op, decision, "transient error").await
    }

    /// After a call that changed the store: maybe a delay, maybe a lost
    /// reply (the change stays, the caller sees an error).
    pub async fn after(&self, op: &str) -> Result<(), StoreError> {
        let rate = self.lock().rates.lost_reply;
        let decision = self.decide(op, rate);
        self.apply(op, decision, "lost reply").await
    }
}
