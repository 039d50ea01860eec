use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

struct Tx<'a> {
    rows: &'a mut Vec<i64>,
}

#[derive(Default)]
struct Balance;

#[projection(name = "bank.balance")]
impl Balance {
    fn on_deposited(&mut self, e: &Deposited, tx: &mut Tx<'_>) {
        tx.rows.push(e.amount);
    }
}

fn main() {}
