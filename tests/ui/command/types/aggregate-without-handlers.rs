use eventsource::prelude::*;

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account")]
struct Account {
    balance: i64,
}

#[derive(Command)]
#[command(aggregate = Account)]
struct Deposit {
    #[aggregate_id]
    account: String,
}

fn main() {}
