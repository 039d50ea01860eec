use eventsource::prelude::*;

#[derive(Aggregate, Default)]
struct Account {
    balance: i64,
}

fn main() {}
