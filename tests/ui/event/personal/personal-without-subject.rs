use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.Registered")]
struct Registered {
    customer: String,
    #[event(personal)]
    email: String,
}

fn main() {}
