use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Command)]
#[command(aggregate = Account)]
struct Deposit {
    #[aggregate_id]
    account: String,
    amount: i64,
}

#[derive(Aggregate)]
#[aggregate(name = "bank.Account")]
struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Default for Account {
    fn default() -> Self {
        Account { balance: 0 }
    }
}

fn main() {}
