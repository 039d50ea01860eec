use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.Registered")]
struct Registered {
    #[event(subject, personal)]
    customer: String,
    #[event(personal)]
    email: String,
}

fn main() {}
