use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", version = 2)]
struct Opened {
    owner: String,
    overdraft_limit: i64,
}

#[upcaster(event = "bank.Opened", from = 1)]
fn opened_v1(v1: OpenedV1) -> OpenedV2 {
    OpenedV2 { owner: v1.owner }
}

#[derive(Deserialize)]
struct OpenedV1 {
    owner: String,
}

struct OpenedV2 {
    owner: String,
}

fn main() {}
