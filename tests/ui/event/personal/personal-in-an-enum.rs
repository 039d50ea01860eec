use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.Contact")]
enum Contact {
    Email {
        #[event(personal)]
        address: String,
    },
}

fn main() {}
