//! Deterministic simulation of the eventsource runtime.
//!
//! One seed fixes a whole run: a single-threaded Tokio runtime on paused
//! time drives command senders, several instances of one projection runner
//! (a transactional read model, an at-least-once audit trail and a saga,
//! each behind a lease, and a deadline scheduler beside each) against the
//! in-memory stores, every one of them wrapped to inject faults: delays,
//! stalls longer than a lease, transient errors, lost replies, broken
//! subscriptions. A scheduler crashes runner instances and senders at random moments and restarts them from what the
//! stores hold. Every source of time and randomness is the seed's
//! [`Clock`] or a generator seeded from it, so a
//! seed replays exactly: same decisions, same trace hash.
//!
//! After the faults stop and the system settles, [`invariants::check`]
//! looks for what must never happen: an acknowledged append lost,
//! duplicated or misplaced; a decision made on a stale state; a read model
//! that is not the fold of the log; an event never delivered; a commit
//! without the lease; a saga left half done; a deadline fired twice, early,
//! after its cancellation or never; a task leaked; a panic.
//!
//! ```
//! let first = eventsource_sim::run_seed(7, eventsource_sim::Shape::default(), None);
//! let again = eventsource_sim::run_seed(7, eventsource_sim::Shape::default(), None);
//! assert!(first.violations.is_empty(), "{:?}", first.violations);
//! assert_eq!(first.trace_hash, again.trace_hash);
//! ```

pub mod backend;
pub mod deadlines;
pub mod domain;
pub mod faults;
pub mod invariants;
pub mod read_model;
pub mod sagas;
pub mod sender;
pub mod store;
pub mod trace;
pub mod world;

use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::sync::Once;

use eventsource::clock::Clock;
pub use eventsource::mutation::Mutation;
pub use world::Shape;

/// How many seeds a run of the command checks unless told otherwise, and
/// within how many the tests require each known bug to be found.
pub const DEFAULT_SEEDS: u64 = 5000;

/// What one seed's run found.
#[derive(Clone, Debug)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The hash of everything the run did, in order.
    pub trace_hash: u64,
    /// Broken invariants; empty when the run passed.
    pub violations: Vec<String>,
    /// Events in the log at the end.
    pub events: u64,
    /// Faults injected.
    pub faults: u64,
    /// Crashes of runner instances and senders.
    pub crashes: u64,
}

thread_local! {
    /// Panics on this thread while a seed runs on it.
    static PANICS: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Counts panics of simulated code instead of printing them; other
/// panics go to the previous hook.
fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let counted = PANICS.with(|panics| match panics.get() {
                Some(n) => {
                    panics.set(Some(n + 1));
                    true
                }
                None => false,
            });
            if !counted {
                previous(info);
            }
        }));
    });
}

/// Runs seed `seed` in a run of `shape`, with `mutation` (a known bug of
/// the runtime) switched on if given, and checks the invariants.
pub fn run_seed(seed: u64, shape: Shape, mutation: Option<Mutation>) -> Report {
    let mut report = Report {
        seed,
        trace_hash: 0,
        violations: Vec::new(),
        events: 0,
        faults: 0,
        crashes: 0,
    };
    #[cfg(feature = "mutations")]
    eventsource::mutation::enable(mutation);
    #[cfg(not(feature = "mutations"))]
    if let Some(mutation) = mutation {
        report.violations.push(format!(
            "mutation `{}` asked for, but built without the `mutations` feature",
            mutation.name()
        ));
        return report;
    }
    count_panics();
    PANICS.with(|panics| panics.set(Some(0)));
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            report.violations.push(format!("no Tokio runtime: {error}"));
            return report;
        }
    };
    let clock = Clock::seeded(seed);
    let outcome = {
        let _ambient = clock.enter();
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            runtime.block_on(async {
                let ended = world::run(seed, clock.clone(), shape).await?;
                let violations = invariants::check(&ended).await;
                record_log(&ended).await;
                let events = ended.store.len() as u64;
                Ok::<_, eventsource::Error>((ended, violations, events))
            })
        }))
    };
    drop(runtime);
    let panics = PANICS.with(|panics| panics.replace(None)).unwrap_or(0);
    #[cfg(feature = "mutations")]
    eventsource::mutation::enable(None);
    match outcome {
        Ok(Err(error)) => report
            .violations
            .push(format!("the simulated application is invalid: {error}")),
        Ok(Ok((ended, violations, events))) => {
            report.trace_hash = ended.faults.trace().hash();
            report.violations = violations;
            report.events = events;
            report.faults = ended.faults.injected();
            report.crashes = ended.crashes;
        }
        Err(_) => report.violations.push("the run panicked".to_owned()),
    }
    if panics > 0 {
        report
            .violations
            .push(format!("{panics} panic(s) during the run"));
    }
    report
}

/// Feeds the final log and read model into the trace, so that two runs
/// with one hash hold the same data, not only the same fault decisions.
async fn record_log(ended: &world::Ended) {
    use eventsource::store::{EventFilter, EventStore};
    use futures::TryStreamExt;
    let log: Vec<eventsource::RecordedEvent> = ended
        .store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap_or_default();
    for e in &log {
        ended.faults.record(format_args!(
            "log {} {} {} {} {} {}",
            e.global_position, e.stream_id, e.stream_version, e.event_id, e.event_name, e.payload
        ));
    }
    ended
        .faults
        .record(format_args!("balances {:?}", ended.balances.balances()));
}
