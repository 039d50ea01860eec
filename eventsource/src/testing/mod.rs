//! Helpers for testing code built on eventsource.
//!
//! - [`AggregateFixture`]: given events, when a command, then expect events or an error.
//! - [`assert_registry_valid`]: one line to check events, upcasters and handlers.
//! - [`SagaFixture`]: given events, when an event, then expect the commands a saga dispatches.
//! - [`TestStore`]: a real store whose next appends can be held at a rendezvous,
//!   refused with a version conflict, or failed.
//! - [`conformance`]: the behavioural test suite every store implementation runs.

pub mod conformance;
mod fixture;
mod saga_fixture;
mod test_store;

pub use fixture::{AggregateFixture, FixtureOutcome};
pub use saga_fixture::{SagaFixture, SagaOutcome};
pub use test_store::{TestStore, TestStoreCounts};

use crate::registry::Registry;

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
