use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account", snapshot_every = 100)]
struct Account {
    balance: i64,
}

fn main() {}
