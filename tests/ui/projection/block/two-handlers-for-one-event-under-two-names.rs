use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

mod bank {
    use super::*;

    #[derive(Event, Serialize, Deserialize, Debug)]
    #[event(name = "bank.Deposited")]
    pub struct Deposited {
        pub amount: i64,
    }
}

use bank::Deposited;
use bank::Deposited as Credited;

#[derive(Default)]
struct Balance {
    total: i64,
}

#[projection(name = "bank.balance")]
impl Balance {
    fn on_deposited(&mut self, e: &Deposited) {
        self.total += e.amount;
    }

    fn on_credited(&mut self, e: &Credited) {
        self.total += e.amount;
    }
}

fn main() {}
