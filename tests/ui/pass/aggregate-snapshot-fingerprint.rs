//! `snapshot_every` without `snapshot_revision`: the revision is a
//! fingerprint of the state's fields.

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.Ticked")]
struct Ticked;

#[derive(Aggregate, Default, Serialize, Deserialize, Debug, PartialEq)]
#[aggregate(name = "pass.Clock", snapshot_every = 1)]
struct Clock {
    ticks: u64,
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "pass.OtherClock", snapshot_every = 1)]
struct OtherClock {
    ticks: i64,
}

#[aggregate_impl]
impl Clock {
    #[event_sourcing_handler]
    fn on_ticked(&mut self, _: &Ticked) {
        self.ticks += 1;
    }
}

#[aggregate_impl]
impl OtherClock {
    #[event_sourcing_handler]
    fn on_ticked(&mut self, _: &Ticked) {
        self.ticks += 1;
    }
}

fn main() {
    let mut clock = Clock::default();
    clock.apply(&ClockEvent::Ticked(Ticked));
    let state = clock.encode_snapshot().unwrap().unwrap();
    assert_eq!(Clock::decode_snapshot(&state).unwrap().unwrap(), clock);
    assert_ne!(Clock::SNAPSHOT_REVISION, OtherClock::SNAPSHOT_REVISION);
    assert!(Clock::SNAPSHOT_REVISION <= i64::MAX as u64);
    eventsource::testing::assert_registry_valid();
}
