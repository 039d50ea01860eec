use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", version = 2)]
struct Opened {
    owner: String,
    overdraft_limit: i64,
}

#[upcaster(event = "bank.Opened", from = 1)]
fn opened_v1(v1: OpenedV1) -> Result<Opened, String> {
    Ok(Opened { owner: v1.owner, overdraft_limit: 0 })
}

#[derive(Deserialize)]
struct OpenedV1 {
    owner: String,
}

fn main() {}
