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

#[derive(Debug)]
struct Overflow;

#[projection(name = "bank.balance")]
impl Balance {
    fn on_deposited(&mut self, e: &Deposited) -> Result<(), Overflow> {
        self.total = self.total.checked_add(e.amount).ok_or(Overflow)?;
        Ok(())
    }
}

fn main() {}
