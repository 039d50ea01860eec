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

#[projection(name = "bank.balance", partitions = 2000)]
impl Balance {
    fn on_deposited(&mut self, e: &Deposited) {
        self.total += e.amount;
    }
}

fn main() {}
