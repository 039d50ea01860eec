use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "bank.Account", snapshot_every = 0)]
struct Account {
    balance: i64,
}

fn main() {}
