use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account", crate = 1)]
struct Account {
    balance: i64,
}

fn main() {}
