//! A program whose registry is inconsistent cannot build repositories or a bus.

use eventsource::Error;
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::registry::RegistryProblem;
use serde::{Deserialize, Serialize};

/// Version 2 with no upcaster from version 1: stored v1 records could never
/// be read, so the runtime refuses to start.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "test.Orphaned", version = 2)]
struct Orphaned {
    value: u32,
}

#[derive(Command)]
#[command(aggregate = Holder)]
struct Hold {
    #[aggregate_id]
    id: u32,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "test.Holder")]
struct Holder {
    value: u32,
}

#[aggregate_impl]
impl Holder {
    #[command_handler(create)]
    fn hold(&self, cmd: &Hold) -> Orphaned {
        Orphaned { value: cmd.id }
    }

    #[event_sourcing_handler]
    fn on_orphaned(&mut self, e: &Orphaned) {
        self.value = e.value;
    }
}

fn assert_missing_upcaster(err: Error) {
    match err {
        Error::Registry(report) => {
            assert_eq!(
                report.problems,
                [RegistryProblem::MissingUpcaster {
                    event: "test.Orphaned",
                    from: 1,
                    current: 2,
                }]
            );
            assert!(report.to_string().contains("test.Orphaned"), "{report}");
        }
        other => panic!("expected the registry report, got {other}"),
    }
}

#[test]
fn repositories_and_buses_refuse_an_invalid_registry() {
    assert_missing_upcaster(Repository::<Holder>::new(InMemoryStore::new()).unwrap_err());
    assert_missing_upcaster(CommandBus::new(InMemoryStore::new()).unwrap_err());
}

#[test]
#[should_panic(expected = "event `test.Orphaned` has no upcaster from version 1 to 2")]
fn the_test_helper_panics_with_the_report() {
    eventsource::testing::assert_registry_valid();
}
