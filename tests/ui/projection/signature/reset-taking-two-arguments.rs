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

struct Db;

#[projection(name = "bank.balance")]
impl Balance {
    fn on_deposited(&mut self, e: &Deposited, db: &mut Db) {
        let _ = db;
        self.total += e.amount;
    }

    #[reset]
    fn clear(&mut self, db: &mut Db, to: i64, why: &str) {
        let _ = (db, why);
        self.total = to;
    }
}

fn main() {}
