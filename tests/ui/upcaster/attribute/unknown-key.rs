use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", version = 2)]
struct Opened {
    owner: String,
    overdraft_limit: i64,
}

#[upcaster(event = "bank.Opened", from = 1, to = 2)]
fn opened_v1(mut v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    v1["overdraft_limit"] = 0.into();
    Ok(v1)
}

fn main() {}
