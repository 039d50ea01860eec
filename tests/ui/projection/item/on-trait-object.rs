use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Default)]
struct Balance {
    total: i64,
}

trait Ledger {}

#[projection(name = "bank.ledger")]
impl dyn Ledger {
    fn on_deposited(&mut self, e: &Deposited) {
        let _ = e;
    }
}

fn main() {}
