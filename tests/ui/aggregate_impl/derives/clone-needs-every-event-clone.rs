use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "bank.Opened")]
struct Opened {
    owner: String,
}

// Neither `Clone` nor `PartialEq`: the enum gets neither.
#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account")]
struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Account {
    #[event_sourcing_handler]
    fn on_opened(&mut self, _: &Opened) {}

    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

fn main() {
    let given = vec![AccountEvent::from(Deposited { amount: 1 })];
    let _ = given.clone();
    let _ = given[0] == given[0];
}
