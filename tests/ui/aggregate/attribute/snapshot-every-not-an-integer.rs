use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "bank.Account", snapshot_every = true)]
struct Account {
    balance: i64,
}

fn main() {}
