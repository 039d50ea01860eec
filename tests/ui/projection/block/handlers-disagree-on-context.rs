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

struct Db;
struct Cache;

#[projection(name = "bank.balance")]
impl Balance {
    fn on_deposited(&mut self, e: &Deposited, db: &mut Db) {
        let _ = db;
        self.total += e.amount;
    }

    fn on_withdrawn(&mut self, e: &Withdrawn, cache: &mut Cache) {
        let _ = cache;
        self.total -= e.amount;
    }
}

fn main() {}
