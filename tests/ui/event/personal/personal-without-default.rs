use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug)]
struct Address {
    street: String,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.Moved")]
struct Moved {
    #[event(subject)]
    customer: String,
    #[event(personal)]
    address: Address,
}

fn main() {}
