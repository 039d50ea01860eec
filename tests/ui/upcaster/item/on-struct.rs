use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", version = 2)]
struct Opened {
    owner: String,
    overdraft_limit: i64,
}

#[upcaster(event = "bank.Opened", from = 1)]
struct OpenedV1 {
    owner: String,
}

fn main() {}
