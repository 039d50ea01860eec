use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", aliases = 1)]
struct Opened {
    owner: String,
}

fn main() {}
