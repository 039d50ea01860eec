//! How the runner batches, retries and holds leases.

use std::time::Duration;

use thiserror::Error;

/// Tuning for a [`ProjectionRunner`](super::ProjectionRunner).
///
/// Checked by [`RunnerOptions::validate`] when a projection starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunnerOptions {
    /// Most events handled in one unit of work (at least 1).
    pub batch_size: usize,
    /// Retries of a failing event before it is parked.
    pub max_retries: u32,
    /// The wait before the first retry; doubled for each later one.
    pub retry_base_delay: Duration,
    /// The longest wait between two retries (at least `retry_base_delay`).
    pub retry_max_delay: Duration,
    /// How long a lease lasts without renewal; renewed every third of it,
    /// also while a rebuild runs or a retry waits (at least 1 ms, the
    /// precision of leases in PostgreSQL).
    pub lease_ttl: Duration,
    /// How often a standby instance tries to take the lease (not zero).
    pub standby_poll: Duration,
    /// The wait before resubscribing after a store error (not zero).
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
        if self.retry_base_delay > self.retry_max_delay {
            return Err(InvalidOptions::RetryDelaysInverted {
                base: self.retry_base_delay,
                max: self.retry_max_delay,
            });
        }
        Ok(())
    }

    /// The wait before retry number `attempt` (1-based): the base delay,
    /// doubled for each retry after the first, capped at the maximum.
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        // Past 2^20 times the base, any sensible cap has long been reached;
        // stopping there keeps the shift in range.
        self.retry_base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.retry_max_delay)
    }

    /// How often the lease holder renews its lease.
    pub(super) fn renew_every(&self) -> Duration {
        // Validated options give at least a third of a millisecond; the
        // floor keeps unvalidated ones from a zero period.
        (self.lease_ttl / 3).max(Duration::from_micros(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delays(base_ms: u64, max_ms: u64) -> RunnerOptions {
        RunnerOptions {
            retry_base_delay: Duration::from_millis(base_ms),
            retry_max_delay: Duration::from_millis(max_ms),
            ..RunnerOptions::default()
        }
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
        let options = RunnerOptions {
            retry_base_delay: Duration::from_secs(u64::MAX / 2),
            retry_max_delay: Duration::MAX,
            ..RunnerOptions::default()
        };
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
            (
                RunnerOptions {
                    batch_size: 0,
                    ..base
                },
                InvalidOptions::ZeroBatchSize,
            ),
            (
                RunnerOptions {
                    lease_ttl: Duration::ZERO,
                    ..base
                },
                InvalidOptions::LeaseTooShort(Duration::ZERO),
            ),
            (
                RunnerOptions {
                    lease_ttl: Duration::from_micros(999),
                    ..base
                },
                InvalidOptions::LeaseTooShort(Duration::from_micros(999)),
            ),
            (
                RunnerOptions {
                    standby_poll: Duration::ZERO,
                    ..base
                },
                InvalidOptions::ZeroStandbyPoll,
            ),
            (
                RunnerOptions {
                    reconnect_delay: Duration::ZERO,
                    ..base
                },
                InvalidOptions::ZeroReconnectDelay,
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
        let shortest = RunnerOptions {
            lease_ttl: MIN_LEASE_TTL,
            retry_base_delay: Duration::ZERO,
            retry_max_delay: Duration::ZERO,
            ..base
        };
        assert_eq!(shortest.validate(), Ok(()));
        assert!(!shortest.renew_every().is_zero());
    }
}
