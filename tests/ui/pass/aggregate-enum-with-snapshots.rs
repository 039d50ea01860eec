//! An aggregate as an enum (a state machine), with snapshots and an explicit
//! snapshot revision.

use eventsource::prelude::*;
use eventsource::testing::AggregateFixture;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.DoorOpened")]
struct DoorOpened;

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.DoorClosed")]
struct DoorClosed;

#[derive(Command)]
#[command(aggregate = Door)]
struct Toggle(#[aggregate_id] u32);

#[derive(Aggregate, Default, Serialize, Deserialize, Debug, PartialEq)]
#[aggregate(name = "pass.Door", snapshot_every = 50, snapshot_revision = 3)]
enum Door {
    #[default]
    Closed,
    Open,
}

#[aggregate_impl]
impl Door {
    #[command_handler(create_if_missing)]
    fn toggle(&self, _: &Toggle) -> DoorEvent {
        match self {
            Door::Closed => DoorOpened.into(),
            Door::Open => DoorClosed.into(),
        }
    }

    #[event_sourcing_handler]
    fn on_opened(&mut self, _: &DoorOpened) {
        *self = Door::Open;
    }

    #[event_sourcing_handler]
    fn on_closed(&mut self, _: &DoorClosed) {
        *self = Door::Closed;
    }
}

fn main() {
    assert_eq!(Door::SNAPSHOT_EVERY, Some(50));
    assert_eq!(Door::SNAPSHOT_REVISION, 3);
    let state = Door::Open.encode_snapshot().unwrap().unwrap();
    assert_eq!(Door::decode_snapshot(&state).unwrap().unwrap(), Door::Open);

    AggregateFixture::<Door>::given([DoorOpened])
        .when(Toggle(7))
        .then_expect_events([DoorClosed])
        .then_expect_state(|door| assert_eq!(*door, Door::Closed));
    assert_eq!(Toggle(7).aggregate_id(), "7");

    eventsource::testing::assert_registry_valid();
}
