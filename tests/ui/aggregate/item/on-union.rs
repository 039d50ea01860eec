use eventsource::prelude::*;

#[derive(Aggregate)]
#[aggregate(name = "bank.Account")]
union Account {
    balance: i64,
    other: u64,
}

fn main() {}
