use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account", snapshot_revision = 2)]
struct Account {
    balance: i64,
}

fn main() {}
