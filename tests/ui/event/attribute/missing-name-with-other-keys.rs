use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(version = 2)]
struct Opened {
    owner: String,
}

fn main() {}
