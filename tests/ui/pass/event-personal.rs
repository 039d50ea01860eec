use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.Registered")]
struct Registered {
    #[event(subject)]
    customer: u64,
    #[event(personal, replacement = "(forgotten)")]
    email: String,
    #[event(personal)]
    age: Option<u32>,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.Moved")]
struct Moved {
    #[event(subject)]
    customer: u64,
    #[event(personal)]
    city: String,
}

fn main() {}
