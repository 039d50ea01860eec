use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

use std::cell::Cell;
use std::rc::Rc;

#[derive(Default)]
struct Balance {
    total: Rc<Cell<i64>>,
}

#[projection(name = "bank.balance")]
impl Balance {
    async fn on_deposited(&mut self, e: &Deposited) {
        self.total.set(self.total.get() + e.amount);
    }
}

fn main() {}
