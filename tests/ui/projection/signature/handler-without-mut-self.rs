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

#[projection(name = "bank.balance")]
impl Balance {
    fn on_deposited(&self, e: &Deposited) {
        println!("{} + {}", self.total, e.amount);
    }
}

fn main() {}
