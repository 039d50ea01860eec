use eventsource::prelude::*;

#[aggregate_impl]
#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account")]
struct Account {
    balance: i64,
}

fn main() {}
