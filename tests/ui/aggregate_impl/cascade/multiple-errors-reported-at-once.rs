use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(version = 0, aliases = [""], colour = "blue")]
struct Deposited {
    amount: i64,
}

#[derive(Command)]
#[command(aggregate = Account, name = "")]
struct Deposit {
    account: String,
    amount: i64,
}

#[derive(Aggregate, Default)]
#[aggregate(snapshot_every = 0)]
struct Account {
    balance: i64,
}

#[aggregate_impl(event_enum = a::b, vis = "everyone")]
impl Account {
    #[command_handler(create, create_if_missing)]
    async fn deposit(&mut self, cmd: &Deposit) {
        let _ = cmd;
    }

    #[event_sourcing_handler]
    fn on_deposited(&self, e: Deposited) -> i64 {
        e.amount
    }
}

#[upcaster(from = 0)]
fn deposited_v1(a: serde_json::Value, b: serde_json::Value) {
    let _ = (a, b);
}

fn main() {}
