use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", version = 2)]
struct Opened {
    owner: String,
    overdraft_limit: i64,
}

#[upcaster(event = "bank.Opened", from = 1)]
fn opened_v1() -> Result<serde_json::Value, UpcastError> {
    Ok(serde_json::Value::Null)
}

fn main() {}
