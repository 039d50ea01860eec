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

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Withdrawn")]
struct Withdrawn {
    amount: i64,
}

#[projection(name = "bank.balance")]
impl Balance {
    fn on_any<E: Event>(&mut self, e: &E) {
        let _ = e;
        self.total += 1;
    }

    fn on_deposited(&mut self, e: &Deposited) {
        self.total += e.amount;
    }

    fn on_withdrawn(&mut self, e: &impl Event) {
        let _ = e;
        self.total -= 1;
    }
}

fn main() {}
