//! An aggregate as a struct, without snapshots, driven by the test fixture.

use eventsource::prelude::*;
use eventsource::testing::AggregateFixture;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.Deposited")]
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

#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "pass.Account")]
struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create_if_missing)]
    fn deposit(&self, cmd: &Deposit) -> Deposited {
        Deposited { amount: cmd.amount }
    }

    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }

    /// Other methods of the block are left alone.
    fn balance(&self) -> i64 {
        self.balance
    }
}

fn main() {
    assert_eq!(Account::NAME, "pass.Account");
    assert_eq!(Account::SNAPSHOT_EVERY, None);
    assert!(Account::default().encode_snapshot().is_none());
    assert!(Account::decode_snapshot("{}").is_none());

    AggregateFixture::<Account>::given([Deposited { amount: 5 }])
        .when(Deposit {
            account: "a1".into(),
            amount: 10,
        })
        .then_expect_events([Deposited { amount: 10 }])
        .then_expect_state(|account| assert_eq!(account.balance(), 15));

    let event = AccountEvent::from(Deposited { amount: 1 });
    assert_eq!(event.name(), "pass.Deposited");
    assert_eq!(format!("{event:?}"), "Deposited(Deposited { amount: 1 })");
    assert_eq!(AccountEvent::NAMES, ["pass.Deposited"]);

    eventsource::testing::assert_registry_valid();
}
