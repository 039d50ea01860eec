use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened")]
struct Opened<T> {
    owner: T,
}

fn main() {}
