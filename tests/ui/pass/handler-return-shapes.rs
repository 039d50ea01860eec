//! Every shape a command handler may return.

use eventsource::prelude::*;
use eventsource::testing::AggregateFixture;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pass.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pass.Withdrawn")]
struct Withdrawn {
    amount: i64,
}

#[derive(Debug, PartialEq)]
enum BankError {
    Closed,
}

type BankResult<T> = Result<T, BankError>;
type DepositsResult = Result<Vec<Deposited>, BankError>;

macro_rules! commands {
    ($($name:ident),*) => {$(
        #[derive(Command)]
        #[command(aggregate = Account)]
        struct $name {
            #[aggregate_id]
            id: String,
        }
    )*};
}

commands!(One, Maybe, Many, Array, Pair, Triple, AsEnum, Fallible, Alias, AliasNoArgs, Nothing);

#[derive(Aggregate, Default)]
#[aggregate(name = "pass.Account")]
struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create_if_missing)]
    fn one(&self, _: &One) -> Deposited {
        Deposited { amount: 1 }
    }

    #[command_handler(create_if_missing)]
    fn maybe(&self, _: &Maybe) -> Option<Deposited> {
        Some(Deposited { amount: 2 })
    }

    #[command_handler(create_if_missing)]
    fn many(&self, _: &Many) -> Vec<Withdrawn> {
        vec![Withdrawn { amount: 1 }, Withdrawn { amount: 2 }]
    }

    #[command_handler(create_if_missing)]
    fn array(&self, _: &Array) -> [Deposited; 2] {
        [Deposited { amount: 3 }, Deposited { amount: 4 }]
    }

    #[command_handler(create_if_missing)]
    fn pair(&self, _: &Pair) -> (Deposited, Withdrawn) {
        (Deposited { amount: 5 }, Withdrawn { amount: 5 })
    }

    #[command_handler(create_if_missing)]
    fn triple(&self, _: &Triple) -> (Withdrawn, Deposited, Deposited) {
        (
            Withdrawn { amount: 1 },
            Deposited { amount: 1 },
            Deposited { amount: 1 },
        )
    }

    #[command_handler(create_if_missing)]
    fn as_enum(&self, _: &AsEnum) -> AccountEvent {
        AccountEvent::Withdrawn(Withdrawn { amount: 9 })
    }

    #[command_handler(create_if_missing)]
    fn fallible(&self, _: &Fallible) -> Result<Deposited, BankError> {
        Err(BankError::Closed)
    }

    #[command_handler(create_if_missing)]
    fn alias(&self, _: &Alias) -> BankResult<Vec<Deposited>> {
        Ok(vec![Deposited { amount: 6 }])
    }

    #[command_handler(create_if_missing)]
    fn alias_no_args(&self, _: &AliasNoArgs) -> DepositsResult {
        Ok(Vec::new())
    }

    #[command_handler(create_if_missing)]
    fn nothing(&self, _: &Nothing) -> Result<(), BankError> {
        Ok(())
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

fn id() -> String {
    "a1".into()
}

fn main() {
    let d = |amount| AccountEvent::from(Deposited { amount });
    let w = |amount| AccountEvent::from(Withdrawn { amount });
    AggregateFixture::<Account>::new()
        .when(One { id: id() })
        .then_expect_events([d(1)]);
    AggregateFixture::<Account>::new()
        .when(Maybe { id: id() })
        .then_expect_events([d(2)]);
    AggregateFixture::<Account>::new()
        .when(Many { id: id() })
        .then_expect_events([w(1), w(2)]);
    AggregateFixture::<Account>::new()
        .when(Array { id: id() })
        .then_expect_events([d(3), d(4)]);
    AggregateFixture::<Account>::new()
        .when(Pair { id: id() })
        .then_expect_events([d(5), w(5)])
        .then_expect_state(|a| assert_eq!(a.balance, 0));
    AggregateFixture::<Account>::new()
        .when(Triple { id: id() })
        .then_expect_events([w(1), d(1), d(1)]);
    AggregateFixture::<Account>::new()
        .when(AsEnum { id: id() })
        .then_expect_events([w(9)]);
    AggregateFixture::<Account>::new()
        .when(Fallible { id: id() })
        .then_expect_error(BankError::Closed);
    AggregateFixture::<Account>::new()
        .when(Alias { id: id() })
        .then_expect_events([d(6)]);
    AggregateFixture::<Account>::new()
        .when(AliasNoArgs { id: id() })
        .then_expect_no_events();
    AggregateFixture::<Account>::new()
        .when(Nothing { id: id() })
        .then_expect_no_events();
    eventsource::testing::assert_registry_valid();
}
