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

#[derive(Default)]
struct Totals<T> {
    seen: Vec<T>,
}

#[projection(name = "bank.totals")]
impl<T: Send + 'static> Totals<T> {
    fn on_deposited(&mut self, e: &Deposited) {
        let _ = e;
    }
}

fn main() {}
