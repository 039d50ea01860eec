use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Opened", version = 2)]
struct Opened {
    owner: String,
    overdraft_limit: i64,
}

struct Upcasters;

impl Upcasters {
    #[upcaster(event = "bank.Opened", from = 1)]
    fn opened_v1(&self, v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
        Ok(v1)
    }
}

fn main() {}
