use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", aliases = [AccountOpened])]
struct Opened {
    owner: String,
}

fn main() {}
