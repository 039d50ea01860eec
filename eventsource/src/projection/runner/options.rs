//! How the runner batches, retries and holds leases.

use std::time::Duration;

/// Tuning for a [`ProjectionRunner`](super::ProjectionRunner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunnerOptions {
    /// Most events handled in one unit of work.
    pub batch_size: usize,
    /// Retries of a failing event before it is parked.
    pub max_retries: u32,
    /// The wait before the first retry; doubled for each later one.
    pub retry_base_delay: Duration,
    /// The longest wait between two retries.
    pub retry_max_delay: Duration,
    /// How long a lease lasts without renewal; renewed every third of it.
    pub lease_ttl: Duration,
    /// How often a standby instance tries to take the lease.
    pub standby_poll: Duration,
    /// The wait before resubscribing after a store error.
    pub reconnect_delay: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            max_retries: 3,
            retry_base_delay: Duration::from_millis(50),
            retry_max_delay: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(15),
            standby_poll: Duration::from_secs(1),
            reconnect_delay: Duration::from_millis(500),
        }
    }
}

impl RunnerOptions {
    /// The wait before retry number `attempt` (1-based).
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        self.retry_base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.retry_max_delay)
    }
}
