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

struct Db {
    rows: Rc<Vec<i64>>,
}

#[projection(name = "bank.balance")]
impl Balance {
    async fn on_deposited(&mut self, e: &Deposited, db: &mut Db) {
        self.total += e.amount + db.rows.len() as i64;
    }
}

fn main() {}
