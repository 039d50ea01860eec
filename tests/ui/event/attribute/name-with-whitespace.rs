use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank account opened")]
struct Opened {
    owner: String,
}

fn main() {}
