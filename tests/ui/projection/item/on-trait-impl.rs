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

use eventsource::memory::InMemoryProjectionBackend;

#[projection(name = "bank.balance")]
impl Clone for Balance {
    fn clone(&self) -> Self {
        Balance { total: self.total }
    }
}

async fn start(runner: &ProjectionRunner) {
    runner
        .start(Balance::default(), InMemoryProjectionBackend::new()).await
        .unwrap();
}

fn main() {
    let _ = start;
}
