//! How the runner batches, retries and holds leases.

use std::time::Duration;

use thiserror::Error;

use crate::backoff::Backoff;

/// Tuning for a [`ProjectionRunner`](super::ProjectionRunner).
///
/// Set with the `with_*` methods; checked by [`RunnerOptions::validate`]
/// when a projection starts.
///
/// ```
/// use std::time::Duration;
/// use eventsource::projection::RunnerOptions;
///
/// let options = RunnerOptions::default()
///     .with_batch_size(100)
///     .with_retry_backoff(Duration::from_millis(10), Duration::from_secs(1));
/// assert_eq!(options.batch_size(), 100);
/// assert_eq!(options.retry_delay(2), Duration::from_millis(20));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunnerOptions {
    pub(super) batch_size: usize,
    pub(super) max_retries: u32,
    pub(super) retry: Backoff,
    pub(super) lease_ttl: Duration,
    pub(super) standby_poll: Duration,
    pub(super) reconnect_delay: Duration,
    pub(super) control_poll: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            max_retries: 3,
            retry: Backoff::new(Duration::from_millis(50), Duration::from_secs(5)),
            lease_ttl: Duration::from_secs(15),
            standby_poll: Duration::from_secs(1),
            reconnect_delay: Duration::from_millis(500),
            control_poll: Duration::from_secs(2),
        }
    }
}

/// The shortest lease: PostgreSQL leases count whole milliseconds, so a
/// shorter one would expire as soon as it is taken.
const MIN_LEASE_TTL: Duration = Duration::from_millis(1);

/// Why [`RunnerOptions`] cannot be used.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidOptions {
    /// `batch_size` is zero: no event could ever be handled.
    #[error("`batch_size` is 0; a unit of work needs at least one event")]
    ZeroBatchSize,
    /// `lease_ttl` is shorter than a millisecond.
    #[error("`lease_ttl` is {0:?}; a lease must last at least 1 ms")]
    LeaseTooShort(Duration),
    /// `standby_poll` is zero: a standby would poll the lease without pause.
    #[error("`standby_poll` is 0; a standby would try to take the lease in a busy loop")]
    ZeroStandbyPoll,
    /// `control_poll` is zero: the owner would read control requests without pause.
    #[error("`control_poll` is 0; the owner would read control requests in a busy loop")]
    ZeroControlPoll,
    /// `reconnect_delay` is zero: a failing store would be retried without pause.
    #[error("`reconnect_delay` is 0; a failing store would be retried in a busy loop")]
    ZeroReconnectDelay,
    /// The first retry would wait longer than the longest wait allowed.
    #[error(
        "`retry_base_delay` ({base:?}) is longer than `retry_max_delay` ({max:?}); the first retry cannot wait longer than any retry"
    )]
    RetryDelaysInverted {
        /// `retry_base_delay`.
        base: Duration,
        /// `retry_max_delay`.
        max: Duration,
    },
}

impl RunnerOptions {
    /// Most events handled in one unit of work (at least 1; default 500).
    pub fn with_batch_size(mut self, events: usize) -> Self {
        self.batch_size = events;
        self
    }

    /// Retries of a failing event before it is parked (default 3).
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The wait before the first retry of a failing event, doubled for each
    /// later one, and the longest wait (at least the first; default 50 ms
    /// and 5 s).
    pub fn with_retry_backoff(mut self, base: Duration, max: Duration) -> Self {
        self.retry = Backoff::new(base, max);
        self
    }

    /// How long a lease lasts without renewal (default 15 s); renewed every
    /// third of it, also while a rebuild runs or a retry waits (at least
    /// 1 ms, the precision of leases in PostgreSQL).
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// How often a standby instance tries to take the lease (not zero;
    /// default 1 s).
    pub fn with_standby_poll(mut self, every: Duration) -> Self {
        self.standby_poll = every;
        self
    }

    /// The wait before resubscribing after a store error (not zero; default
    /// 500 ms).
    pub fn with_reconnect_delay(mut self, delay: Duration) -> Self {
        self.reconnect_delay = delay;
        self
    }

    /// How often a projection's owner reads its control requests (not
    /// zero; default 2 s). Stores that can wake runners (PostgreSQL through
    /// `NOTIFY`, the in-memory store) deliver requests at once; the poll
    /// covers wake-ups lost on the way.
    pub fn with_control_poll(mut self, every: Duration) -> Self {
        self.control_poll = every;
        self
    }

    /// How often a projection's owner reads its control requests.
    pub fn control_poll(&self) -> Duration {
        self.control_poll
    }

    /// Most events handled in one unit of work.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Retries of a failing event before it is parked.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The waits between retries of a failing event.
    pub fn retry_backoff(&self) -> Backoff {
        self.retry
    }

    /// How long a lease lasts without renewal.
    pub fn lease_ttl(&self) -> Duration {
        self.lease_ttl
    }

    /// How often a standby instance tries to take the lease.
    pub fn standby_poll(&self) -> Duration {
        self.standby_poll
    }

    /// The wait before resubscribing after a store error.
    pub fn reconnect_delay(&self) -> Duration {
        self.reconnect_delay
    }

    /// Checks that the options can drive a projection.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        if self.batch_size == 0 {
            return Err(InvalidOptions::ZeroBatchSize);
        }
        if self.lease_ttl < MIN_LEASE_TTL {
            return Err(InvalidOptions::LeaseTooShort(self.lease_ttl));
        }
        if self.standby_poll.is_zero() {
            return Err(InvalidOptions::ZeroStandbyPoll);
        }
        if self.reconnect_delay.is_zero() {
            return Err(InvalidOptions::ZeroReconnectDelay);
        }
        if self.control_poll.is_zero() {
            return Err(InvalidOptions::ZeroControlPoll);
        }
        if self.retry.base() > self.retry.max() {
            return Err(InvalidOptions::RetryDelaysInverted {
                base: self.retry.base(),
                max: self.retry.max(),
            });
        }
        Ok(())
    }

    /// The wait before retry number `attempt` (1-based): the base delay,
    /// doubled for each retry after the first, capped at the maximum.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        self.retry.delay(attempt)
    }

    /// How often the lease holder renews its lease.
    pub(super) fn renew_every(&self) -> Duration {
        // Validated options give at least a third of a millisecond; the
        // floor keeps unvalidated ones from a zero period.
        (self.lease_ttl / 3).max(Duration::from_micros(1))
    }

    /// How often a runner renews its membership of a partitioned
    /// projection: as often as a standby looks for a lease (at most a
    /// renewal period), so that a runner joining or leaving is seen soon.
    pub(super) fn membership_period(&self) -> Duration {
        self.renew_every().min(self.standby_poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delays(base_ms: u64, max_ms: u64) -> RunnerOptions {
        RunnerOptions::default().with_retry_backoff(
            Duration::from_millis(base_ms),
            Duration::from_millis(max_ms),
        )
    }

    #[test]
    fn retry_delays_double_from_the_base() {
        let options = delays(10, 10_000);
        let waits: Vec<u64> = (1..=5)
            .map(|n| options.retry_delay(n).as_millis() as u64)
            .collect();
        assert_eq!(waits, [10, 20, 40, 80, 160]);
    }

    #[test]
    fn retry_delays_stop_at_the_cap() {
        let options = delays(10, 50);
        let waits: Vec<u64> = (1..=6)
            .map(|n| options.retry_delay(n).as_millis() as u64)
            .collect();
        assert_eq!(waits, [10, 20, 40, 50, 50, 50]);
    }

    #[test]
    fn retry_delays_of_huge_attempt_numbers_neither_overflow_nor_exceed_the_cap() {
        let options = RunnerOptions::default()
            .with_retry_backoff(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        assert_eq!(options.retry_delay(u32::MAX), Duration::MAX);
        let options = delays(10, 50);
        assert_eq!(options.retry_delay(u32::MAX), Duration::from_millis(50));
        assert_eq!(
            options.retry_delay(0),
            Duration::from_millis(10),
            "attempt 0 is treated as the first"
        );
    }

    #[test]
    fn the_defaults_are_valid() {
        assert_eq!(RunnerOptions::default().validate(), Ok(()));
    }

    #[test]
    fn options_that_would_stall_or_spin_are_rejected() {
        let base = RunnerOptions::default();
        let cases = [
            (base.with_batch_size(0), InvalidOptions::ZeroBatchSize),
            (
                base.with_lease_ttl(Duration::ZERO),
                InvalidOptions::LeaseTooShort(Duration::ZERO),
            ),
            (
                base.with_lease_ttl(Duration::from_micros(999)),
                InvalidOptions::LeaseTooShort(Duration::from_micros(999)),
            ),
            (
                base.with_standby_poll(Duration::ZERO),
                InvalidOptions::ZeroStandbyPoll,
            ),
            (
                base.with_reconnect_delay(Duration::ZERO),
                InvalidOptions::ZeroReconnectDelay,
            ),
            (
                base.with_control_poll(Duration::ZERO),
                InvalidOptions::ZeroControlPoll,
            ),
            (
                delays(20, 10),
                InvalidOptions::RetryDelaysInverted {
                    base: Duration::from_millis(20),
                    max: Duration::from_millis(10),
                },
            ),
        ];
        for (options, expected) in cases {
            assert_eq!(options.validate(), Err(expected));
        }
        let shortest = base
            .with_lease_ttl(MIN_LEASE_TTL)
            .with_retry_backoff(Duration::ZERO, Duration::ZERO);
        assert_eq!(shortest.validate(), Ok(()));
        assert!(!shortest.renew_every().is_zero());
    }
}
