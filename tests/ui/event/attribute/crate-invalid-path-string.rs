use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", crate = "event source")]
struct Opened {
    owner: String,
}

fn main() {}
