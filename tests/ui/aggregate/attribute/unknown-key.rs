use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account", snapshots = 10)]
struct Account {
    balance: i64,
}

fn main() {}
