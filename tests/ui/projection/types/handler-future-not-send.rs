use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

use std::rc::Rc;

#[derive(Default)]
struct Balance {
    total: i64,
}

async fn audit() {}

#[projection(name = "bank.balance")]
impl Balance {
    async fn on_deposited(&mut self, e: &Deposited) {
        let amount = Rc::new(e.amount);
        audit().await;
        self.total += *amount;
    }
}

fn main() {}
