use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Default)]
struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Account {
    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

fn main() {}
