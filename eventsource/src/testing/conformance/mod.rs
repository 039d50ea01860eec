//! One behavioural test suite for every store implementation.
//!
//! A backend proves it keeps the rules of [`EventStore`], [`SnapshotStore`]
//! and [`CheckpointStore`] by running [`run`] with a factory that returns a
//! fresh, empty [`Subject`] for each check. Every check runs even when an
//! earlier one failed, and [`ConformanceReport::assert_passed`] lists all
//! failures at once.
//!
//! The checks stay within what the traits promise. In particular they never
//! assume that global positions are contiguous, that a store returns JSON
//! payloads byte for byte (a store may normalise them; they are compared as
//! JSON values), or that timestamps keep more than microsecond precision.
//!
//! Saga deadline stores have a suite of their own, [`run_deadlines`].
//!
//! ```
//! use eventsource::memory::{InMemoryCheckpointStore, InMemoryStore};
//! use eventsource::testing::conformance::{self, Subject};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let report = conformance::run(|| async {
//!     let store = InMemoryStore::new();
//!     Subject::new(store.clone(), store, InMemoryCheckpointStore::new())
//! })
//! .await;
//! report.assert_passed();
//! # });
//! ```

mod appends;
mod archive;
mod catalog;
mod checkpoints;
mod deadlines;
mod input;
mod keys;
mod lifecycle;
mod payloads;
mod reads;
mod report;
mod snapshots;
mod subscriptions;
mod support;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use crate::clock::Clock;
use crate::saga::DeadlineStore;
use crate::shredding::KeyStore;
use crate::store::{CheckpointStore, EventStore, SnapshotStore};

pub use report::{CheckResult, ConformanceReport};

/// The stores one check runs against. They must start empty.
#[derive(Clone)]
pub struct Subject {
    /// The event store under test.
    pub events: Arc<dyn EventStore>,
    /// The snapshot store under test.
    pub snapshots: Arc<dyn SnapshotStore>,
    /// The checkpoint store under test.
    pub checkpoints: Arc<dyn CheckpointStore>,
}

impl Subject {
    /// Bundles the three stores; they may be one value cloned three times.
    pub fn new(
        events: impl EventStore,
        snapshots: impl SnapshotStore,
        checkpoints: impl CheckpointStore,
    ) -> Self {
        Self {
            events: Arc::new(events),
            snapshots: Arc::new(snapshots),
            checkpoints: Arc::new(checkpoints),
        }
    }
}

impl std::fmt::Debug for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subject").finish_non_exhaustive()
    }
}

/// How long one check may take before it counts as failed (a store that
/// never delivers a live event would otherwise hang the suite).
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

type Outcome = Result<(), String>;

/// One named check of a subject `S` (the stores, a key store, a deadline store).
struct Check<S> {
    name: &'static str,
    run: fn(S) -> BoxFuture<'static, Outcome>,
}

/// Runs `checks`, each against a fresh subject from `new_subject`.
async fn run_checks<'c, S, F, Fut>(
    checks: impl IntoIterator<Item = &'c Check<S>>,
    mut new_subject: F,
) -> ConformanceReport
where
    S: 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut results = Vec::new();
    for check in checks {
        let clock = Clock::current();
        let started = clock.instant();
        // A panicking factory or store fails its check, not the whole suite.
        let attempt = AssertUnwindSafe(async {
            let subject = new_subject().await;
            clock.timeout(CHECK_TIMEOUT, (check.run)(subject)).await
        })
        .catch_unwind()
        .await;
        let outcome = match attempt {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_elapsed)) => Err(format!("timed out after {CHECK_TIMEOUT:?}")),
            Err(panic) => Err(format!("panicked: {}", support::panic_message(&*panic))),
        };
        results.push(CheckResult {
            name: check.name,
            outcome,
            elapsed: started.elapsed(),
        });
    }
    ConformanceReport::new(results)
}

macro_rules! checks {
    ($($module:ident::$name:ident),* $(,)?) => {
        &[$(Check {
            name: concat!(stringify!($module), "::", stringify!($name)),
            run: |subject| Box::pin($module::$name(subject)),
        }),*]
    };
}

const CHECKS: &[Check<Subject>] = checks![
    appends::no_stream_creates_the_stream,
    appends::no_stream_conflicts_when_the_stream_exists,
    appends::exact_appends_at_the_matching_version,
    appends::exact_conflict_reports_the_actual_version,
    appends::any_appends_whatever_the_version,
    appends::versions_are_contiguous_and_fields_round_trip,
    appends::empty_batch_checks_the_expectation_and_writes_nothing,
    appends::replayed_batch_is_idempotent,
    appends::duplicate_event_ids_are_rejected,
    appends::aggregate_type_is_fixed_per_stream,
    appends::empty_stream_id_is_invalid,
    appends::repeated_id_in_a_batch_is_invalid,
    input::payload_that_is_not_json_is_invalid,
    input::schema_version_zero_is_invalid,
    input::empty_names_are_invalid,
    input::overlong_names_are_invalid,
    input::nul_characters_are_invalid,
    reads::read_stream_from_a_version,
    reads::read_all_is_in_global_order,
    reads::read_all_from_a_position,
    reads::read_all_filters_by_event_name,
    reads::read_all_filters_by_aggregate_type,
    reads::read_all_filters_by_recorded_time,
    reads::read_all_combines_filters,
    reads::read_all_filters_by_partition,
    reads::head_position_and_stream_version,
    reads::visit_with_replay_fields_lends_the_same_events,
    subscriptions::caught_up_on_an_empty_store,
    subscriptions::history_then_live,
    subscriptions::filter_is_respected,
    subscriptions::resumes_from_a_position,
    subscriptions::concurrent_appends_arrive_once_in_order,
    snapshots::save_and_load,
    snapshots::keeps_the_higher_version,
    snapshots::delete_forgets,
    snapshots::one_read_of_snapshot_and_events_matches_two,
    lifecycle::soft_delete_keeps_events_and_refuses_appends,
    lifecycle::hard_delete_removes_events_and_tells_subscribers,
    lifecycle::hard_delete_after_soft_removes_the_rest,
    lifecycle::missing_streams_are_typed_errors,
    lifecycle::recreate_starts_the_stream_again,
    lifecycle::truncate_keeps_the_tail,
    archive::moves_all_but_the_last_and_keeps_positions,
    archive::appends_continue_after_archiving,
    archive::subscriptions_read_archive_and_hot_in_one_order,
    archive::deletes_and_truncations_reach_the_archive,
    catalog::streams_are_listed_with_their_heads,
    catalog::event_types_count_names_and_versions,
    checkpoints::load_save_and_reset,
    checkpoints::positions_only_move_forward,
    payloads::payloads_are_validated_against_their_version,
];

const KEY_CHECKS: &[Check<Arc<dyn KeyStore>>] = &[
    Check {
        name: "keys::a_subject_keeps_its_first_key",
        run: |keys| Box::pin(keys::a_subject_keeps_its_first_key(keys)),
    },
    Check {
        name: "keys::a_forgotten_subject_is_refused_for_good",
        run: |keys| Box::pin(keys::a_forgotten_subject_is_refused_for_good(keys)),
    },
    Check {
        name: "keys::a_subject_forgotten_before_its_first_event_stays_forgotten",
        run: |keys| {
            Box::pin(keys::a_subject_forgotten_before_its_first_event_stays_forgotten(keys))
        },
    },
];

/// Runs the checks of a crypto-shredding [`KeyStore`], each against a fresh,
/// empty key store from `new_keys`.
///
/// ```
/// use std::sync::Arc;
/// use eventsource::shredding::InMemoryKeyStore;
/// use eventsource::testing::conformance;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let report = conformance::run_key_store(|| async {
///     Arc::new(InMemoryKeyStore::new()) as Arc<dyn eventsource::shredding::KeyStore>
/// })
/// .await;
/// report.assert_passed();
/// # });
/// ```
pub async fn run_key_store<F, Fut>(new_keys: F) -> ConformanceReport
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Arc<dyn KeyStore>>,
{
    run_checks(KEY_CHECKS, new_keys).await
}

/// The names of every check, in the order [`run`] executes them.
pub fn check_names() -> impl Iterator<Item = &'static str> {
    CHECKS.iter().map(|c| c.name)
}

/// Runs every check, each against a fresh subject from `new_subject`.
pub async fn run<F, Fut>(new_subject: F) -> ConformanceReport
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Subject>,
{
    run_matching("", new_subject).await
}

/// Runs the checks whose name contains `pattern` (all of them for `""`).
///
/// Handy while fixing one failure: `run_matching("subscriptions::", ..)`.
pub async fn run_matching<F, Fut>(pattern: &str, new_subject: F) -> ConformanceReport
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Subject>,
{
    run_checks(
        CHECKS.iter().filter(|c| c.name.contains(pattern)),
        new_subject,
    )
    .await
}

macro_rules! deadline_checks {
    ($($name:ident),* $(,)?) => {
        &[$(Check {
            name: concat!("deadlines::", stringify!($name)),
            run: |store| Box::pin(deadlines::$name(store)),
        }),*]
    };
}

const DEADLINE_CHECKS: &[Check<deadlines::Deadlines>] = deadline_checks![
    due_deadlines_are_claimed_once_earliest_first,
    a_claim_takes_at_most_the_limit,
    scheduling_again_replaces_and_cancel_removes,
    fired_deadlines_are_gone,
];

/// Runs every check of a saga [`DeadlineStore`], each against a fresh,
/// empty store from `new_store`.
///
/// ```
/// use eventsource::memory::InMemorySagaStore;
/// use eventsource::testing::conformance;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// conformance::run_deadlines(|| async { InMemorySagaStore::new() })
///     .await
///     .assert_passed();
/// # });
/// ```
pub async fn run_deadlines<F, Fut, D>(mut new_store: F) -> ConformanceReport
where
    F: FnMut() -> Fut,
    Fut: Future<Output = D>,
    D: DeadlineStore,
{
    run_checks(DEADLINE_CHECKS, || {
        let store = new_store();
        async move { Arc::new(store.await) as deadlines::Deadlines }
    })
    .await
}
