use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(serde::name = "bank.Opened")]
struct Opened {
    owner: String,
}

fn main() {}
