use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.Registered")]
struct Registered {
    #[event(subject)]
    customer: String,
    #[event(replacement = "(gone)")]
    email: String,
}

fn main() {}
