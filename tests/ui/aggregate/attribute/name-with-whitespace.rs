use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "bank account")]
struct Account {
    balance: i64,
}

fn main() {}
