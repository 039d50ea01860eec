//! Partitioned projections and sagas: the count is a constant of the impl.

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

/// Eight partitions, with a version.
struct Balances(i64);

#[projection(name = "bank.balances", version = 2, partitions = 8)]
impl Balances {
    fn on_deposited(&mut self, e: &Deposited) {
        self.0 += e.amount;
    }
}

/// One partition: the same as none.
struct Counter(u64);

#[projection(partitions = 1, name = "bank.count")]
impl Counter {
    fn on_deposited(&mut self, _e: &Deposited) {
        self.0 += 1;
    }
}

/// A saga in partitions.
#[derive(Serialize, Deserialize, Default)]
struct Audit {
    seen: u64,
}

#[saga(name = "bank.audit", partitions = 4)]
impl Audit {
    #[start]
    fn on_deposited(&mut self, _e: &Deposited) {
        self.seen += 1;
    }
}

fn main() {
    const { assert!(<Balances as Projection>::PARTITIONS == 8) };
    const { assert!(<Balances as Projection>::VERSION == 2) };
    const { assert!(<Counter as Projection>::PARTITIONS == 1) };
    const { assert!(<Audit as eventsource::saga::Saga>::PARTITIONS == 4) };
}
