//! Two crates claiming one event name, or answering one query, are
//! reported, not silently merged: each crate compiles (it sees one of the
//! two), and the program refuses to start.

use eventsource::Registry;
use eventsource::prelude::*;
use eventsource::registry::RegistryProblem;
use serde::{Deserialize, Serialize};

// Links the fixture crate, whose `fixture.ParcelDelivered` this type also
// claims, and whose `WhereIsParcel` query it answers too.
use eventsource_fixture_events::WhereIsParcel;

/// A second read model answering the fixture crate's query.
struct Tracker;

#[read_model]
impl Tracker {
    #[query_handler]
    fn track(&self, q: &WhereIsParcel) -> Option<String> {
        Some(q.parcel.clone())
    }
}

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
        [
            RegistryProblem::DuplicateEventName {
                name: "fixture.ParcelDelivered",
                types: vec![
                    "cross_crate_duplicate::Impostor",
                    "eventsource_fixture_events::ParcelDelivered",
                ],
            },
            RegistryProblem::DuplicateQueryHandler {
                query: "fixture.WhereIsParcel",
                handlers: vec![
                    "cross_crate_duplicate::Tracker::track".into(),
                    "eventsource_fixture_events::ParcelLocations::locate".into(),
                ],
            },
        ]
    );
    // Start-up refuses: the bus would not know where to send the query.
    let refused = QueryBus::new().unwrap_err().to_string();
    assert!(
        refused.contains("query `fixture.WhereIsParcel` is answered by"),
        "{refused}"
    );
    let _ = Impostor {
        signed_by: String::new(),
    }
    .signed_by;
}
