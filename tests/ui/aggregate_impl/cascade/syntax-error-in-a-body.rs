//! A syntax error inside a handler's body: the macro copies bodies without
//! reading them, so the compiler reports the error where it is, once, and
//! the aggregate, its commands and events still work everywhere else.

use eventsource::prelude::*;
use eventsource::testing::AggregateFixture;
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
    #[command_handler]
    fn deposit(&self, cmd: &Deposit) -> Deposited {
        let amount = cmd.amount +;
        Deposited { amount }
    }

    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

fn main() {
    AggregateFixture::<Account>::new()
        .when(Deposit {
            account: "a1".into(),
            amount: 5,
        })
        .then_expect_events([Deposited { amount: 5 }]);
    let _event: AccountEvent = Deposited { amount: 1 }.into();
}
