use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", version = 4294967296)]
struct Opened {
    owner: String,
}

fn main() {}
