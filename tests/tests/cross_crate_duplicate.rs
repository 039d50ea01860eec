//! Two crates claiming one event name are reported, not silently merged.

use eventsource::Registry;
use eventsource::prelude::*;
use eventsource::registry::RegistryProblem;
use serde::{Deserialize, Serialize};

// Links the fixture crate, whose `fixture.ParcelDelivered` this type also claims.
use eventsource_fixture_events as _;

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "fixture.ParcelDelivered")]
struct Impostor {
    signed_by: String,
}

#[test]
fn a_name_claimed_in_two_crates_is_a_registry_problem() {
    let report = Registry::global().validate().unwrap_err();
    assert_eq!(
        report.problems,
        [RegistryProblem::DuplicateEventName {
            name: "fixture.ParcelDelivered",
            types: vec![
                "cross_crate_duplicate::Impostor",
                "eventsource_fixture_events::ParcelDelivered",
            ],
        }]
    );
    let _ = Impostor {
        signed_by: String::new(),
    }
    .signed_by;
}
