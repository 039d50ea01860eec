use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Withdrawn")]
struct Withdrawn {
    amount: i64,
}

struct Db;
struct Cache;

#[derive(Default)]
struct Balance {
    total: i64,
}

#[projection(name = "bank balance", colour = "blue")]
impl Balance {
    #[start]
    fn on_deposited(&mut self, e: &Deposited, db: &mut Db, n: i64) {
        let _ = db;
        self.total += e.amount * n;
    }

    fn on_withdrawn(&mut self, e: &Withdrawn, cache: &mut Cache) -> impl Sized {
        let _ = cache;
        self.total -= e.amount;
    }

    fn on_withdrawal(&mut self, e: &Withdrawn) {
        self.total -= e.amount;
    }

    #[reset(now)]
    unsafe fn clear(&mut self, db: &mut Db) {
        let _ = db;
        self.total = 0;
    }

    #[reset]
    fn zero() {}
}

fn main() {}
