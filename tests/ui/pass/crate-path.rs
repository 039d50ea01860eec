//! `crate = path` on every macro, naming the runtime through a re-export,
//! as a framework built on eventsource would.

mod runtime {
    pub use eventsource::*;
}

use eventsource::prelude::*;
use eventsource::testing::AggregateFixture;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.Counted", version = 2, crate = crate::runtime)]
struct Counted {
    by: i64,
}

#[upcaster(event = "pass.Counted", from = 1, crate = crate::runtime)]
fn counted_v1(v1: CountedV1) -> Counted {
    Counted { by: v1.step }
}

#[derive(Deserialize)]
struct CountedV1 {
    step: i64,
}

#[derive(Command)]
#[command(aggregate = Counter, crate = "crate::runtime")]
struct Count {
    #[aggregate_id]
    id: String,
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "pass.Counter", snapshot_every = 10, crate = crate::runtime)]
struct Counter {
    total: i64,
}

#[aggregate_impl(crate = crate::runtime)]
impl Counter {
    #[command_handler(create_if_missing)]
    fn count(&self, _: &Count) -> Counted {
        Counted { by: 1 }
    }

    #[event_sourcing_handler]
    fn on_counted(&mut self, e: &Counted) {
        self.total += e.by;
    }
}

fn main() {
    AggregateFixture::<Counter>::given([Counted { by: 2 }])
        .when(Count { id: "c".into() })
        .then_expect_events([Counted { by: 1 }])
        .then_expect_state(|c| assert_eq!(c.total, 3));
    let record = eventsource_tests::stored("pass.Counted", 1, r#"{"step":5}"#);
    match CounterEvent::decode(&record).unwrap() {
        CounterEvent::Counted(counted) => assert_eq!(counted.by, 5),
    }
    eventsource::testing::assert_registry_valid();
}
