//! Time and randomness behind one seam: wall-clock time, sleeping and
//! timers, random numbers and id generation.
//!
//! Every part of the runtime that reads the time, waits, draws a random
//! number or makes an id does it through a [`Clock`]. The default is the
//! system: `Utc::now()`, the thread's random number generator, UUIDs from
//! the `uuid` crate. [`Clock::seeded`] replaces all of them with sources one
//! seed fixes, so that a whole run is reproducible: its random numbers come
//! from a generator seeded with the seed, its wall clock advances with
//! Tokio's clock from a fixed start, and its ids are built from both.
//!
//! Waiting always goes through `tokio::time`, whichever the clock, so a
//! test on Tokio's paused time (`#[tokio::test(start_paused = true)]`)
//! drives every timer; with a seeded clock the wall clock then moves with
//! it, and two runs with the same seed produce the same ids, timestamps and
//! jitter.
//!
//! # Where a clock comes from
//!
//! Components take one with a `with_clock` option
//! ([`InMemoryStore`](crate::memory::InMemoryStore),
//! [`Repository`](crate::Repository), [`CommandBus`](crate::CommandBus),
//! [`RetryPolicy`](crate::RetryPolicy),
//! [`ProjectionRunner`](crate::projection::ProjectionRunner),
//! [`SagaProcessor`](crate::saga::SagaProcessor), and the PostgreSQL store's
//! options). Left alone, each uses the *ambient* clock when it is built:
//! [`Clock::current`]. Functions that have no component to ask, such as
//! [`NewEvent::new`](crate::NewEvent::new) making an event id, use the
//! ambient clock when they run.
//!
//! The ambient clock is the system's unless a [`Clock::enter`] guard is
//! alive on the current thread. A current-thread Tokio runtime (what
//! `#[tokio::test]` builds) runs all its tasks on the thread that entered,
//! so one guard covers the whole run; for a multi-threaded runtime, enter
//! the clock in the runtime's `on_thread_start` hook.
//!
//! ```
//! use eventsource::clock::Clock;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap().block_on(async {
//! let run = || {
//!     let clock = Clock::seeded(42);
//!     let _ambient = clock.enter();
//!     (clock.uuid_v7(), clock.now(), clock.fraction())
//! };
//! assert_eq!(run(), run());
//! # });
//! ```

use std::cell::RefCell;
use std::fmt;
use std::future::IntoFuture;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use tokio::time::{Instant, Interval, Sleep, Timeout};
use uuid::Uuid;

/// The source of time and randomness of a component. Cheap to clone:
/// clones share one source.
#[derive(Clone, Default)]
pub struct Clock {
    /// `None`: the system.
    seeded: Option<Arc<Seeded>>,
}

/// The sources of a seeded clock.
struct Seeded {
    seed: u64,
    random: Mutex<fastrand::Rng>,
    /// Tokio's instant at the clock's first reading of the wall clock.
    start: OnceLock<Instant>,
}

/// Where the wall clock of every seeded clock starts.
fn seeded_epoch() -> DateTime<Utc> {
    Utc.timestamp_opt(946_684_800, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

thread_local! {
    static AMBIENT: RefCell<Option<Clock>> = const { RefCell::new(None) };
}

impl Clock {
    /// The system's time and randomness.
    pub fn system() -> Self {
        Self::default()
    }

    /// Time and randomness fixed by `seed`: random numbers from a generator
    /// seeded with it, and a wall clock that starts at 2000-01-01T00:00:00Z
    /// on its first reading and then advances with Tokio's clock.
    pub fn seeded(seed: u64) -> Self {
        Self {
            seeded: Some(Arc::new(Seeded {
                seed,
                random: Mutex::new(fastrand::Rng::with_seed(seed)),
                start: OnceLock::new(),
            })),
        }
    }

    /// The seed, for a seeded clock.
    pub fn seed(&self) -> Option<u64> {
        self.seeded.as_ref().map(|s| s.seed)
    }

    /// The ambient clock of this thread: the one a live [`Clock::enter`]
    /// guard set, else the system's.
    pub fn current() -> Self {
        AMBIENT.with(|ambient| ambient.borrow().clone().unwrap_or_default())
    }

    /// Makes this the ambient clock of the current thread until the guard
    /// is dropped (the previous one is then restored).
    pub fn enter(&self) -> ClockGuard {
        let previous = AMBIENT.with(|ambient| ambient.replace(Some(self.clone())));
        ClockGuard {
            previous,
            _thread: PhantomData,
        }
    }

    /// The wall-clock time.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.seeded {
            None => Utc::now(),
            Some(seeded) => {
                let start = *seeded.start.get_or_init(Instant::now);
                let elapsed = Instant::now().saturating_duration_since(start);
                seeded_epoch() + elapsed
            }
        }
    }

    /// Tokio's monotonic clock, which paused time drives.
    pub fn instant(&self) -> Instant {
        Instant::now()
    }

    /// Waits for `duration` on Tokio's timer.
    pub fn sleep(&self, duration: Duration) -> Sleep {
        tokio::time::sleep(duration)
    }

    /// Waits until `deadline` on Tokio's timer.
    pub fn sleep_until(&self, deadline: Instant) -> Sleep {
        tokio::time::sleep_until(deadline)
    }

    /// Ticks every `period`, the first time at `start`.
    pub fn interval_at(&self, start: Instant, period: Duration) -> Interval {
        tokio::time::interval_at(start, period)
    }

    /// Runs `future` for at most `duration`.
    pub fn timeout<F: IntoFuture>(&self, duration: Duration, future: F) -> Timeout<F::IntoFuture> {
        tokio::time::timeout(duration, future)
    }

    /// A random number in `[0, 1)`.
    pub fn fraction(&self) -> f64 {
        match &self.seeded {
            None => fastrand::f64(),
            Some(seeded) => seeded.random().f64(),
        }
    }

    /// A random `u64`.
    pub fn u64(&self) -> u64 {
        match &self.seeded {
            None => fastrand::u64(..),
            Some(seeded) => seeded.random().u64(..),
        }
    }

    /// A time-ordered id (UUID v7) for now. A seeded clock builds it from
    /// its wall clock and its random numbers; ids made in one millisecond
    /// are then ordered by chance, not by creation.
    pub fn uuid_v7(&self) -> Uuid {
        match &self.seeded {
            None => Uuid::now_v7(),
            Some(seeded) => {
                let millis = u64::try_from(self.now().timestamp_millis()).unwrap_or(0);
                let mut bytes = [0u8; 10];
                seeded.random().fill(&mut bytes);
                uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
            }
        }
    }

    /// A random id (UUID v4).
    pub fn uuid_v4(&self) -> Uuid {
        match &self.seeded {
            None => Uuid::new_v4(),
            Some(seeded) => {
                let mut bytes = [0u8; 16];
                seeded.random().fill(&mut bytes);
                uuid::Builder::from_random_bytes(bytes).into_uuid()
            }
        }
    }

    /// A time-ordered id from the ambient clock, without cloning it.
    pub(crate) fn current_uuid_v7() -> Uuid {
        AMBIENT.with(|ambient| match &*ambient.borrow() {
            Some(clock) => clock.uuid_v7(),
            None => Uuid::now_v7(),
        })
    }
}

impl Seeded {
    // A draw cannot leave the generator half-changed, so a poisoned lock
    // is still usable.
    fn random(&self) -> std::sync::MutexGuard<'_, fastrand::Rng> {
        self.random.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PartialEq for Clock {
    /// Clocks are equal when they are the system's, or share one source.
    fn eq(&self, other: &Self) -> bool {
        match (&self.seeded, &other.seeded) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Clock {}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.seed() {
            None => f.write_str("Clock::system()"),
            Some(seed) => write!(f, "Clock::seeded({seed})"),
        }
    }
}

/// Restores the previous ambient clock when dropped (see [`Clock::enter`]).
/// Bound to the thread that entered.
#[must_use = "the clock is ambient only while the guard lives"]
pub struct ClockGuard {
    previous: Option<Clock>,
    _thread: PhantomData<*const ()>,
}

impl Drop for ClockGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        AMBIENT.with(|ambient| *ambient.borrow_mut() = previous);
    }
}

impl fmt::Debug for ClockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClockGuard").finish_non_exhaustive()
    }
}
