use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Command)]
#[command(aggregate = Account)]
struct Deposit {
    #[aggregate_id]
    account: String,
    amount: i64,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account")]
struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create_if_missing)]
    fn deposit(&self, cmd: &Deposit, meta: Metadata) -> Deposited {
        let _ = meta;
        Deposited { amount: cmd.amount }
    }

    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

fn main() {}
