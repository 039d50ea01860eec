use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account", snapshot_every = 10, snapshot_every = 20)]
struct Account {
    balance: i64,
}

fn main() {}
