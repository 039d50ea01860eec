//! `event_enum = Name` and `vis = ...` (quoted or not) on `#[aggregate_impl]`.

mod bank {
    use eventsource::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Serialize, Deserialize, Debug)]
    #[event(name = "pass.Credited")]
    pub struct Credited {
        pub amount: i64,
    }

    #[derive(Aggregate, Default)]
    #[aggregate(name = "pass.Wallet")]
    pub(crate) struct Wallet {
        pub balance: i64,
    }

    #[aggregate_impl(event_enum = WalletChange, vis = "pub(crate)")]
    impl Wallet {
        #[event_sourcing_handler]
        fn on_credited(&mut self, e: &Credited) {
            self.balance += e.amount;
        }
    }

    #[derive(Aggregate, Default)]
    #[aggregate(name = "pass.Purse")]
    pub(super) struct Purse {
        pub balance: i64,
    }

    #[aggregate_impl(vis = pub(super), event_enum = PurseChange)]
    impl Purse {
        #[event_sourcing_handler]
        fn on_credited(&mut self, e: &Credited) {
            self.balance += e.amount;
        }
    }
}

use bank::{Credited, Purse, PurseChange, Wallet, WalletChange};
use eventsource::prelude::*;

fn main() {
    let mut wallet = Wallet::default();
    wallet.apply(&WalletChange::Credited(Credited { amount: 3 }));
    assert_eq!(wallet.balance, 3);
    let mut purse = Purse::default();
    purse.apply(&PurseChange::from(Credited { amount: 4 }));
    assert_eq!(purse.balance, 4);
    eventsource::testing::assert_registry_valid();
}
