//! How many times a command is re-run after a version conflict, and how long to wait.

use std::time::Duration;

use crate::backoff::Backoff;
use crate::clock::Clock;

/// Bounded retries with exponential backoff and jitter.
///
/// On a version conflict the repository reloads the aggregate and runs the
/// handler again, so the decision is made on the state that won.
///
/// ```
/// use std::time::Duration;
/// use eventsource::RetryPolicy;
///
/// let policy = RetryPolicy::attempts(3)
///     .with_backoff(Duration::from_millis(5), Duration::from_millis(100));
/// assert_eq!(policy.max_attempts(), 3);
/// assert!(policy.delay(1) <= Duration::from_millis(5));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    pub(super) max_attempts: u32,
    backoff: Backoff,
    /// The jitter's randomness; the repository's clock when `None`.
    clock: Option<Clock>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            backoff: Backoff::new(Duration::from_millis(2), Duration::from_millis(200)),
            clock: None,
        }
    }
}

impl RetryPolicy {
    /// Run once; a conflict is returned to the caller.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Up to `max_attempts` runs with the default backoff.
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            ..Self::default()
        }
    }

    /// Sets the backoff: `base_delay` before the first retry, doubled for
    /// each later one, never more than `max_delay`.
    pub fn with_backoff(mut self, base_delay: Duration, max_delay: Duration) -> Self {
        self.backoff = Backoff::new(base_delay, max_delay);
        self
    }

    /// Draws the jitter from `clock` rather than from the clock of the
    /// repository using the policy.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Total runs of the handler, the first included (at least 1).
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff between runs, before jitter.
    pub fn backoff(&self) -> Backoff {
        self.backoff
    }

    /// The wait after failed run number `attempt` (1-based), jittered to
    /// between half and all of the exponential delay so that writers that
    /// collided do not collide again in step. The jitter comes from the
    /// policy's clock, else the ambient one ([`Clock::current`]).
    pub fn delay(&self, attempt: u32) -> Duration {
        match &self.clock {
            Some(clock) => self.backoff.jittered(attempt, clock),
            None => self.backoff.jittered(attempt, &Clock::current()),
        }
    }

    /// [`RetryPolicy::delay`], with `fallback` as the clock when the policy
    /// has none of its own.
    pub(super) fn delay_on(&self, attempt: u32, fallback: &Clock) -> Duration {
        self.backoff
            .jittered(attempt, self.clock.as_ref().unwrap_or(fallback))
    }
}
