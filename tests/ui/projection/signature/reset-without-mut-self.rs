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

use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Default)]
struct Shared {
    total: AtomicI64,
}

#[projection(name = "bank.shared")]
impl Shared {
    fn on_deposited(&mut self, e: &Deposited) {
        *self.total.get_mut() += e.amount;
    }

    #[reset]
    fn clear(&self) {
        self.total.store(0, Ordering::SeqCst);
    }
}

fn main() {}
