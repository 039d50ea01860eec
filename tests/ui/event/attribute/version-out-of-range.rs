use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", version = 18446744073709551616)]
struct Opened {
    owner: String,
}

fn main() {}
