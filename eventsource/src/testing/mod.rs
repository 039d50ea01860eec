//! Helpers for testing code built on eventsource.
//!
//! - [`AggregateFixture`]: given events, when a command, then expect events or an error.
//! - [`assert_registry_valid`]: one line to check events, upcasters and handlers.
//! - [`SagaFixture`]: given events, when an event, then expect the commands a saga dispatches.
//! - [`TestStore`]: a real store whose next appends can be held at a rendezvous,
//!   refused with a version conflict, or failed.
//! - [`assert_schema_lock`]: the schema drift check, against the lock file
//!   the application commits.
//! - [`conformance`]: the behavioural test suite every store implementation runs.

pub mod conformance;
mod fixture;
mod saga_fixture;
mod test_store;

pub use fixture::{AggregateFixture, FixtureOutcome};
pub use saga_fixture::{SagaFixture, SagaOutcome};
pub use test_store::{TestStore, TestStoreCounts};

use std::path::Path;

use crate::registry::{Catalogue, LockError, Registry, SchemaLock};

/// Panics with the full report if the program's registry is inconsistent.
///
/// Put it in a test of each application crate, so a duplicate event name or a
/// missing upcaster fails the build's tests rather than a deployment.
///
/// ```
/// eventsource::testing::assert_registry_valid();
/// ```
#[track_caller]
pub fn assert_registry_valid() {
    if let Err(report) = Registry::global().validate() {
        panic!("{report}");
    }
}

/// The variable that makes [`assert_schema_lock`] record compatible
/// changes in the lock file instead of failing on them.
pub const UPDATE_LOCK_VAR: &str = "EVENTSOURCE_UPDATE_LOCK";

/// Panics unless the lock file at `path` records exactly the schemas of the
/// program's events: with every breaking change (and what to do about it),
/// or with the compatible changes not yet recorded.
///
/// Run the tests with `EVENTSOURCE_UPDATE_LOCK=1` to record the compatible
/// changes (the file is created if missing); breaking ones still fail.
///
/// ```no_run
/// eventsource::testing::assert_schema_lock(concat!(env!("CARGO_MANIFEST_DIR"), "/events.lock.json"));
/// ```
#[track_caller]
pub fn assert_schema_lock(path: impl AsRef<Path>) {
    let path = path.as_ref();
    let catalogue = Catalogue::of(Registry::global());
    let update = std::env::var_os(UPDATE_LOCK_VAR).is_some_and(|v| !v.is_empty() && v != "0");
    if update {
        match SchemaLock::write_updated(path, &catalogue) {
            Ok(_) => return,
            Err(LockError::Breaking(report)) => panic!("{report}"),
            Err(other) => panic!("{other}"),
        }
    }
    match SchemaLock::check_file(path, &catalogue) {
        Ok(report) if report.is_up_to_date() => {}
        Ok(report) => panic!("{report}(or run the tests with {UPDATE_LOCK_VAR}=1)"),
        Err(error) => panic!("{error}"),
    }
}
