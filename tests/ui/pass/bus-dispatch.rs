//! The generated code end to end: commands through the bus, events through
//! the in-memory store, snapshots and a rejection.

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.Withdrawn")]
struct Withdrawn {
    amount: i64,
}

#[derive(Command)]
#[command(aggregate = Account)]
struct Deposit {
    #[aggregate_id]
    account: String,
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
struct Insufficient;

impl std::fmt::Display for Insufficient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("insufficient funds")
    }
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "pass.Account", snapshot_every = 2)]
struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create_if_missing)]
    fn deposit(&self, cmd: &Deposit) -> Deposited {
        Deposited { amount: cmd.amount }
    }

    #[command_handler]
    fn withdraw(&self, cmd: &Withdraw) -> Result<Withdrawn, Insufficient> {
        if cmd.amount > self.balance {
            return Err(Insufficient);
        }
        Ok(Withdrawn { amount: cmd.amount })
    }

    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }

    #[event_sourcing_handler]
    fn on_withdrawn(&mut self, e: &Withdrawn) {
        self.balance -= e.amount;
    }
}

fn main() {
    eventsource::testing::assert_registry_valid();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = InMemoryStore::new();
        let bus = CommandBus::new(store.clone())
            .unwrap()
            .with_snapshots(store);
        for _ in 0..3 {
            bus.dispatch(Deposit {
                account: "a1".into(),
                amount: 10,
            })
            .await
            .unwrap();
        }
        bus.dispatch(Withdraw {
            account: "a1".into(),
            amount: 25,
        })
        .await
        .unwrap();
        let error = bus
            .dispatch(Withdraw {
                account: "a1".into(),
                amount: 25,
            })
            .await
            .unwrap_err();
        assert_eq!(error.rejection(), Some(&Insufficient));
        let loaded = bus.repository::<Account>().load("a1").await.unwrap().unwrap();
        assert_eq!(loaded.state.balance, 5);
    });
}
