use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

trait Ledger {}

#[aggregate_impl]
impl dyn Ledger {
    #[event_sourcing_handler]
    fn on_deposited(&mut self, _: &Deposited) {}
}

fn main() {}
