//! How long to wait before trying again: the one backoff of the runtime,
//! used by command retries, projection retries and the PostgreSQL store's
//! re-checks and reconnects.

use std::time::Duration;

use crate::clock::Clock;

/// Exponential backoff: `base` before the first retry, doubled for each
/// later one, never more than `max`.
///
/// ```
/// use std::time::Duration;
/// use eventsource::backoff::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(50));
/// let waits: Vec<u128> = (1..=5).map(|n| backoff.delay(n).as_millis()).collect();
/// assert_eq!(waits, [10, 20, 40, 50, 50]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
}

impl Backoff {
    /// Waits of `base`, doubling, up to `max`.
    pub const fn new(base: Duration, max: Duration) -> Self {
        Self { base, max }
    }

    /// The first wait.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// The longest wait.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The wait before retry number `attempt` (1-based; 0 counts as 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1);
        self.base
            .saturating_mul(2u32.saturating_pow(doublings))
            .min(self.max)
    }

    /// [`Backoff::delay`] jittered to between half and all of it with
    /// `clock`'s randomness, so that writers that collided do not collide
    /// again in step.
    pub fn jittered(&self, attempt: u32, clock: &Clock) -> Duration {
        self.delay(attempt).mul_f64(0.5 + clock.fraction() * 0.5)
    }

    /// The waits one after another, for a loop that may start over.
    pub fn delays(&self) -> Delays {
        Delays {
            backoff: *self,
            attempt: 0,
        }
    }
}

/// The waits of a [`Backoff`], one after another (see [`Backoff::delays`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delays {
    backoff: Backoff,
    attempt: u32,
}

impl Delays {
    /// The wait to make now; the following one is twice as long, up to the
    /// maximum.
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        self.backoff.delay(self.attempt)
    }

    /// Starts again from the first wait.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(base: u64, max: u64) -> Backoff {
        Backoff::new(Duration::from_millis(base), Duration::from_millis(max))
    }

    #[test]
    fn doubles_from_the_base_up_to_the_cap() {
        let waits: Vec<u128> = (1..=6).map(|n| ms(10, 50).delay(n).as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 50, 50, 50]);
        assert_eq!(ms(10, 50).delay(0), Duration::from_millis(10));
        assert_eq!(ms(80, 50).delay(1), Duration::from_millis(50));
    }

    #[test]
    fn huge_attempt_numbers_neither_overflow_nor_pass_the_cap() {
        let huge = Backoff::new(Duration::from_secs(u64::MAX / 2), Duration::MAX);
        assert_eq!(huge.delay(u32::MAX), Duration::MAX);
        assert_eq!(ms(10, 50).delay(u32::MAX), Duration::from_millis(50));
    }

    #[test]
    fn delays_double_and_start_over() {
        let mut delays = ms(1, 5).delays();
        let waits: Vec<u128> = (0..5).map(|_| delays.next_delay().as_millis()).collect();
        assert_eq!(waits, [1, 2, 4, 5, 5]);
        delays.reset();
        assert_eq!(delays.next_delay().as_millis(), 1);
    }

    #[test]
    fn jitter_keeps_between_half_and_all_of_the_delay() {
        let clock = Clock::seeded(3);
        for attempt in 1..50 {
            let full = ms(2, 200).delay(attempt);
            let jittered = ms(2, 200).jittered(attempt, &clock);
            assert!(
                jittered >= full / 2 && jittered <= full,
                "{jittered:?} of {full:?}"
            );
        }
    }
}
