//! How many times a command is re-run after a version conflict, and how long to wait.

use std::time::Duration;

/// Bounded retries with exponential backoff and jitter.
///
/// On a version conflict the repository reloads the aggregate and runs the
/// handler again, so the decision is made on the state that won.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Total runs of the handler, the first included (at least 1).
    pub max_attempts: u32,
    /// The wait before the first retry; doubled for each later one.
    pub base_delay: Duration,
    /// The longest wait between two runs.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(200),
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

    /// Sets the backoff.
    pub fn with_backoff(mut self, base_delay: Duration, max_delay: Duration) -> Self {
        self.base_delay = base_delay;
        self.max_delay = max_delay;
        self
    }

    /// The wait after failed run number `attempt` (1-based), jittered to
    /// between half and all of the exponential delay so that writers that
    /// collided do not collide again in step.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_delay);
        capped.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}
