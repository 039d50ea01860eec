use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account")]
struct Account<T> {
    balance: T,
}

fn main() {}
