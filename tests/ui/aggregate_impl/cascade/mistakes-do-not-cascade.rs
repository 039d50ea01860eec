//! Two mistakes in handlers: each is reported once, and the code using the
//! aggregate, its commands, events and errors reports nothing more.

use eventsource::prelude::*;
use eventsource::testing::AggregateFixture;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Withdrawn")]
struct Withdrawn {
    amount: i64,
}

#[derive(Command)]
#[command(aggregate = Account)]
struct Withdraw {
    #[aggregate_id]
    account: String,
    amount: i64,
}

#[derive(Debug, PartialEq)]
enum BankError {
    Insufficient,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "bank.Account")]
struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Account {
    #[command_handler]
    async fn withdraw(&self, cmd: &Withdraw) -> Result<Withdrawn, BankError> {
        if cmd.amount > self.balance {
            return Err(BankError::Insufficient);
        }
        Ok(Withdrawn { amount: cmd.amount })
    }

    #[event_sourcing_handler]
    fn on_withdrawn(&mut self, e: Withdrawn) {
        self.balance -= e.amount;
    }
}

fn main() {
    AggregateFixture::<Account>::given([Withdrawn { amount: 1 }])
        .when(Withdraw {
            account: "a1".into(),
            amount: 5,
        })
        .then_expect_error(BankError::Insufficient);
    let _event: AccountEvent = Withdrawn { amount: 1 }.into();
}
