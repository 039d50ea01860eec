use eventsource::prelude::*;

#[command_handler]
struct Deposit {
    amount: i64,
}

fn main() {}
