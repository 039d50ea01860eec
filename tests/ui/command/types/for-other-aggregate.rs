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

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Branch")]
struct Branch;

#[aggregate_impl]
impl Branch {
    #[event_sourcing_handler]
    fn on_deposited(&mut self, _: &Deposited) {}
}

#[derive(Command)]
#[command(aggregate = Branch)]
struct Close {
    #[aggregate_id]
    branch: String,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create_if_missing)]
    fn deposit(&self, cmd: &Deposit) -> Deposited {
        Deposited { amount: cmd.amount }
    }

    #[command_handler]
    fn close(&self, cmd: &Close) -> Deposited {
        let _ = cmd;
        Deposited { amount: 0 }
    }

    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

fn main() {}
