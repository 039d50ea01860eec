use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "")]
struct Account {
    balance: i64,
}

fn main() {}
