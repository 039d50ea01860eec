use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", aliases = ["account opened"])]
struct Opened {
    owner: String,
}

fn main() {}
