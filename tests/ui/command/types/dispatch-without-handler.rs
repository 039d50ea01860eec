//! A command whose aggregate has no handler for it, dispatched: reported
//! once, at the call.

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.Stocked")]
struct Stocked {
    count: u32,
}

#[derive(Command)]
#[command(aggregate = Shelf)]
struct Stock {
    #[aggregate_id]
    id: String,
    count: u32,
}

#[derive(Command)]
#[command(aggregate = Shelf)]
struct Count {
    #[aggregate_id]
    id: String,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "shop.Shelf")]
struct Shelf {
    count: u32,
}

#[aggregate_impl]
impl Shelf {
    #[command_handler(create_if_missing)]
    fn stock(&self, cmd: &Stock) -> Stocked {
        Stocked { count: cmd.count }
    }

    #[event_sourcing_handler]
    fn on_stocked(&mut self, e: &Stocked) {
        self.count += e.count;
    }
}

async fn run(bus: CommandBus) {
    let _ = bus.dispatch(Count { id: "s1".into() }).await;
}

fn main() {
    let _ = run;
}
