//! The macros' expansions name everything through absolute paths: they
//! compile in a module that shadows the prelude's names, in a module without
//! the prelude, and under strict lints.

#![deny(warnings, missing_docs, unreachable_pub, missing_debug_implementations)]
#![deny(unused_qualifications, trivial_casts, trivial_numeric_casts)]
#![forbid(unsafe_code)]

/// Every name the generated code could pick up by accident, shadowed.
#[allow(dead_code, unused_imports, unused_macros)]
mod shadows {
    #[derive(Debug)]
    pub(crate) struct Result;
    #[derive(Debug)]
    pub(crate) struct Ok;
    #[derive(Debug)]
    pub(crate) struct Err;
    #[derive(Debug)]
    pub(crate) struct Option;
    #[derive(Debug)]
    pub(crate) struct Some;
    #[derive(Debug)]
    pub(crate) struct None;
    #[derive(Debug)]
    pub(crate) struct Box;
    #[derive(Debug)]
    pub(crate) struct Vec;
    #[derive(Debug)]
    pub(crate) struct String;
    #[derive(Debug)]
    pub(crate) struct Infallible;
    pub(crate) trait Default {}
    pub(crate) trait From {}
    pub(crate) trait Into {}
    pub(crate) trait ToString {}
    pub(crate) trait Debug {}
    pub(crate) trait Clone {}
    pub(crate) trait Display {}
    pub(crate) trait Event {}
    pub(crate) trait Aggregate {}
    pub(crate) trait Command {}
    pub(crate) trait Handles {}
    pub(crate) trait EventSet {}
    pub(crate) trait Projection {}
    pub(crate) trait Saga {}
    pub(crate) trait Send {}
    pub(crate) trait Sync {}
    pub(crate) trait Sized {}
    #[derive(Debug)]
    pub(crate) struct SagaContext;
    #[derive(Debug)]
    pub(crate) struct RecordedEvent;
    #[derive(Debug)]
    pub(crate) struct ProjectionError;
    #[derive(Debug)]
    pub(crate) struct EventFns;
    pub(crate) mod core {}
    pub(crate) mod std {}
    pub(crate) mod alloc {}
    pub(crate) mod eventsource {}
    pub(crate) mod serde_json {}
    pub(crate) mod inventory {}
    pub(crate) mod async_trait {}
    pub(crate) mod projection {}
    pub(crate) mod saga {}
    pub(crate) mod registry {}
    macro_rules! concat {
        ($($t:tt)*) => {
            compile_error!("the shadowed `concat!` was used")
        };
    }
    macro_rules! stringify {
        ($($t:tt)*) => {
            compile_error!("the shadowed `stringify!` was used")
        };
    }
    macro_rules! module_path {
        ($($t:tt)*) => {
            compile_error!("the shadowed `module_path!` was used")
        };
    }
    macro_rules! unreachable {
        ($($t:tt)*) => {
            compile_error!("the shadowed `unreachable!` was used")
        };
    }
    macro_rules! vec {
        ($($t:tt)*) => {
            compile_error!("the shadowed `vec!` was used")
        };
    }
    pub(crate) use {concat, module_path, stringify, unreachable, vec};
}

/// A bank, declared where every shadow above is in scope.
#[deny(unused_results)]
mod shadowed {
    #[allow(unused_imports)]
    use crate::shadows::*;

    use ::eventsource::saga::SagaContext;
    use ::eventsource::{
        Metadata, RecordedEvent, aggregate_impl, command_handler, event_sourcing_handler,
        projection, saga, upcaster,
    };
    use ::serde::{Deserialize, Serialize};

    /// Money in.
    #[derive(
        ::eventsource::Event, Serialize, Deserialize, ::core::fmt::Debug, ::core::clone::Clone,
    )]
    #[event(name = "hygiene.Deposited", version = 2, aliases = ["hygiene.Credited"])]
    pub(crate) struct Deposited {
        /// How much.
        pub(crate) amount: ::core::primitive::i64,
    }

    /// Money out.
    #[derive(::eventsource::Event, Serialize, Deserialize, ::core::fmt::Debug)]
    #[event(name = "hygiene.Withdrawn")]
    pub(crate) struct Withdrawn {
        /// How much.
        pub(crate) amount: ::core::primitive::i64,
    }

    /// Version 1 of `Deposited` stored the amount as text.
    #[derive(Deserialize)]
    pub(crate) struct DepositedV1 {
        amount: ::std::string::String,
    }

    #[upcaster(event = "hygiene.Deposited", from = 1)]
    fn deposited_v1(
        v1: DepositedV1,
    ) -> ::core::result::Result<Deposited, ::eventsource::UpcastError> {
        let amount = v1
            .amount
            .parse()
            .map_err(|_| ::eventsource::UpcastError::new("not a number"))?;
        ::core::result::Result::Ok(Deposited { amount })
    }

    /// Put money in.
    #[derive(::eventsource::Command, ::core::clone::Clone, ::core::fmt::Debug)]
    #[command(aggregate = Account)]
    pub(crate) struct Deposit {
        /// The account.
        #[aggregate_id]
        pub(crate) account: ::std::string::String,
        /// How much.
        pub(crate) amount: ::core::primitive::i64,
    }

    /// Take money out.
    #[derive(::eventsource::Command, ::core::fmt::Debug)]
    #[command(aggregate = Account, name = "hygiene.Withdraw")]
    pub(crate) struct Withdraw(
        #[aggregate_id] pub(crate) ::core::primitive::u64,
        pub(crate) ::core::primitive::i64,
    );

    /// Why a withdrawal fails.
    #[derive(::core::fmt::Debug, ::core::cmp::PartialEq)]
    pub(crate) struct Insufficient;

    /// The handlers' results.
    pub(crate) type BankResult<T> = ::core::result::Result<T, Insufficient>;

    /// An account.
    #[derive(
        ::eventsource::Aggregate,
        ::core::default::Default,
        Serialize,
        Deserialize,
        ::core::fmt::Debug,
    )]
    #[aggregate(name = "hygiene.Account", snapshot_every = 10)]
    pub(crate) struct Account {
        /// The balance.
        pub(crate) balance: ::core::primitive::i64,
    }

    #[aggregate_impl]
    impl Account {
        #[command_handler(create_if_missing)]
        fn deposit(&self, cmd: Deposit, meta: &Metadata) -> ::core::option::Option<Deposited> {
            let _ = meta;
            (cmd.amount > 0).then_some(Deposited { amount: cmd.amount })
        }

        #[command_handler]
        fn withdraw(&self, cmd: &Withdraw) -> BankResult<(Withdrawn, Deposited)> {
            if cmd.1 > self.balance {
                return ::core::result::Result::Err(Insufficient);
            }
            ::core::result::Result::Ok((Withdrawn { amount: cmd.1 }, Deposited { amount: 0 }))
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

    /// What a `#[reset]` method returns: an alias that hides its error.
    pub(crate) type Fallible = ::core::result::Result<
        (),
        ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Send + ::core::marker::Sync>,
    >;

    /// The movements seen: amount (negative out) and stream version.
    #[derive(::core::default::Default, ::core::fmt::Debug)]
    pub(crate) struct Movements {
        /// The movements.
        pub(crate) seen: ::std::vec::Vec<(::core::primitive::i64, ::core::primitive::u64)>,
    }

    #[projection(name = "hygiene.movements")]
    impl Movements {
        fn on_deposited(
            &mut self,
            e: &Deposited,
            meta: &RecordedEvent,
        ) -> ::core::result::Result<(), ::std::string::String> {
            if e.amount < 0 {
                return ::core::result::Result::Err("a negative deposit".into());
            }
            self.seen.push((e.amount, meta.stream_version));
            ::core::result::Result::Ok(())
        }

        async fn on_withdrawn(&mut self, e: &Withdrawn) {
            self.seen.push((-e.amount, 0));
        }

        #[reset]
        async fn clear(&mut self) -> Fallible {
            self.seen.clear();
            ::core::result::Result::Ok(())
        }
    }

    /// The first deposit of each correlation.
    #[derive(::core::default::Default, Serialize, Deserialize, ::core::fmt::Debug)]
    pub(crate) struct FirstDeposit {
        /// Its amount.
        pub(crate) amount: ::core::primitive::i64,
    }

    #[saga(name = "hygiene.first_deposit")]
    impl FirstDeposit {
        #[start]
        async fn on_deposited(
            &mut self,
            e: &Deposited,
            meta: &RecordedEvent,
            ctx: &mut SagaContext<'_>,
        ) -> ::core::result::Result<(), ::std::string::String> {
            if meta.stream_version == 0 {
                return ::core::result::Result::Err("no stream".into());
            }
            self.amount = e.amount;
            ctx.complete();
            ::core::result::Result::Ok(())
        }

        fn on_withdrawn(&mut self, e: &Withdrawn) {
            self.amount -= e.amount;
        }
    }
}

/// Primitive types shadowed (serde's derives do not support that, so the
/// events come from elsewhere).
#[allow(non_camel_case_types)]
#[deny(unused_results)]
mod primitives {
    use ::eventsource::prelude::*;

    #[allow(dead_code)]
    struct u32;
    #[allow(dead_code)]
    struct u64;
    #[allow(dead_code)]
    struct str;
    #[allow(dead_code)]
    struct bool;
    #[allow(dead_code)]
    struct usize;

    /// Stop a clock.
    #[derive(Command)]
    #[command(aggregate = Stopwatch, name = "hygiene.Stop")]
    pub(crate) struct Stop {
        /// The stopwatch.
        #[aggregate_id]
        pub(crate) id: ::core::primitive::u64,
    }

    /// A stopwatch.
    #[derive(Aggregate, ::core::default::Default)]
    #[aggregate(name = "hygiene.Stopwatch")]
    pub(crate) struct Stopwatch {
        /// Stopped.
        pub(crate) stopped: ::core::primitive::bool,
    }

    #[aggregate_impl(event_enum = StopwatchEvent, vis = "pub(crate)")]
    impl Stopwatch {
        #[command_handler]
        fn stop(&self, _: &Stop) -> super::no_prelude::Ticked {
            super::no_prelude::Ticked { by: 0 }
        }

        #[event_sourcing_handler]
        fn on_ticked(&mut self, _: &super::no_prelude::Ticked) {
            self.stopped = true;
        }
    }

    /// Ticks counted.
    #[derive(::core::default::Default, ::core::fmt::Debug)]
    pub(crate) struct TickCount {
        /// How many.
        pub(crate) ticks: ::core::primitive::u64,
    }

    #[projection(name = "hygiene.tick_count")]
    impl TickCount {
        async fn on_ticked(
            &mut self,
            e: &super::no_prelude::Ticked,
            meta: &RecordedEvent,
        ) -> ::core::result::Result<(), ProjectionError> {
            let _ = meta;
            self.ticks += e.by;
            ::core::result::Result::Ok(())
        }
    }
}

/// The same, where the prelude does not exist at all.
#[no_implicit_prelude]
#[deny(unused_results)]
mod no_prelude {
    use ::eventsource::{
        aggregate_impl, command_handler, event_sourcing_handler, projection, saga, upcaster,
    };
    use ::serde::{Deserialize, Serialize};

    /// A tick.
    #[derive(::eventsource::Event, Serialize, Deserialize, ::core::fmt::Debug)]
    #[event(name = "hygiene.Ticked", version = 2)]
    pub(crate) struct Ticked {
        /// By how much.
        pub(crate) by: ::core::primitive::u64,
    }

    #[upcaster(event = "hygiene.Ticked", from = 1)]
    fn ticked_v1(
        mut v1: ::serde_json::Value,
    ) -> ::core::result::Result<::serde_json::Value, ::eventsource::UpcastError> {
        v1["by"] = <::serde_json::Value as ::core::convert::From<i32>>::from(1);
        ::core::result::Result::Ok(v1)
    }

    /// Tick.
    #[derive(::eventsource::Command)]
    #[command(aggregate = Clock)]
    pub(crate) struct Tick {
        /// The clock.
        #[aggregate_id]
        pub(crate) clock: ::std::string::String,
    }

    /// A clock, whose event enum is crate-visible.
    #[derive(::eventsource::Aggregate, ::core::default::Default, ::core::fmt::Debug)]
    #[aggregate(name = "hygiene.Clock")]
    pub(crate) struct Clock {
        /// The time.
        pub(crate) ticks: ::core::primitive::u64,
    }

    #[aggregate_impl(event_enum = ClockEvent, vis = pub(crate))]
    impl Clock {
        #[command_handler(create_if_missing)]
        fn tick(&self, _: &Tick) -> ::std::vec::Vec<Ticked> {
            ::std::vec![Ticked { by: 1 }, Ticked { by: 2 }]
        }

        #[event_sourcing_handler]
        fn on_ticked(&mut self, e: &Ticked) {
            self.ticks += e.by;
        }
    }

    /// What the clock's read model writes through.
    #[derive(::core::fmt::Debug)]
    pub(crate) struct Tally {
        /// The time.
        pub(crate) total: ::core::primitive::u64,
    }

    /// The clock's read model, kept in its context.
    #[derive(::core::fmt::Debug)]
    pub(crate) struct ClockView;

    #[projection(name = "hygiene.clock_view")]
    impl ClockView {
        async fn on_ticked(
            &mut self,
            e: &Ticked,
            tally: &mut Tally,
        ) -> ::core::result::Result<(), ::std::string::String> {
            tally.total += e.by;
            ::core::result::Result::Ok(())
        }

        #[reset]
        fn clear(&mut self, tally: &mut Tally) {
            tally.total = 0;
        }
    }

    /// Rings once the clock ticked by more than one.
    #[derive(::core::default::Default, Serialize, Deserialize, ::core::fmt::Debug)]
    pub(crate) struct Alarm {
        /// Whether it rang.
        pub(crate) rang: ::core::primitive::bool,
    }

    #[saga(name = "hygiene.alarm")]
    impl Alarm {
        #[start]
        fn on_ticked(&mut self, e: &Ticked, ctx: &mut ::eventsource::saga::SagaContext<'_>) {
            self.rang = e.by > 1;
            ctx.complete();
        }
    }
}

use eventsource::memory::{InMemorySagaStore, InMemoryStore};
use eventsource::projection::Projection;
use eventsource::saga::{Saga, SagaProcessor, SagaStore};
use eventsource::testing::AggregateFixture;
use eventsource::{AggregateConfig, Command, CommandBus, EventSet};

#[test]
fn expands_where_primitive_types_are_shadowed() {
    use primitives::*;
    AggregateFixture::<Stopwatch>::given([no_prelude::Ticked { by: 1 }])
        .when(Stop { id: 1 })
        .then_expect_state(|s| assert!(s.stopped));
    assert_eq!(Stopwatch::SNAPSHOT_EVERY, None);
    assert_eq!(Stop { id: 3 }.aggregate_id(), "3");
    let _: StopwatchEvent = no_prelude::Ticked { by: 1 }.into();
}

#[test]
fn expands_where_prelude_names_are_shadowed() {
    use shadowed::*;
    AggregateFixture::<Account>::given([Deposited { amount: 10 }])
        .when(Withdraw(1, 4))
        .then_expect_events([
            AccountEvent::from(Withdrawn { amount: 4 }),
            AccountEvent::from(Deposited { amount: 0 }),
        ])
        .then_expect_state(|account| assert_eq!(account.balance, 6));
    AggregateFixture::<Account>::new()
        .when(Deposit {
            account: "a".into(),
            amount: 3,
        })
        .then_expect_events([Deposited { amount: 3 }]);
    AggregateFixture::<Account>::given([Deposited { amount: 1 }])
        .when(Withdraw(1, 4))
        .then_expect_error(Insufficient);
    assert_eq!(Account::SNAPSHOT_EVERY, Some(10));

    let record = eventsource_tests::stored("hygiene.Credited", 1, r#"{"amount":"7"}"#);
    let event = AccountEvent::decode(&record).expect("decodes through the upcaster");
    assert_eq!(format!("{event:?}"), "Deposited(Deposited { amount: 7 })");
}

#[test]
fn expands_without_the_prelude() {
    use no_prelude::*;
    AggregateFixture::<Clock>::new()
        .when(Tick { clock: "c".into() })
        .then_expect_events([Ticked { by: 1 }, Ticked { by: 2 }])
        .then_expect_state(|clock| assert_eq!(clock.ticks, 3));
    let record = eventsource_tests::stored("hygiene.Ticked", 1, "{}");
    let ClockEvent::Ticked(ticked) = ClockEvent::decode(&record).expect("upcast");
    assert_eq!(ticked.by, 1);
}

/// Runs `record` through saga `S`, as its processor would, and returns the
/// instance it left.
async fn run_saga<S: Saga>(record: &eventsource::RecordedEvent) -> eventsource::saga::SagaInstance {
    let bus = CommandBus::new(InMemoryStore::new()).expect("a valid registry");
    let store = InMemorySagaStore::new();
    let mut processor = SagaProcessor::<S>::new(bus, store.clone());
    assert!(processor.handle(record, &mut ()).await.expect("handled"));
    let mut instances = store.list(S::NAME).await.expect("listed");
    assert_eq!(instances.len(), 1);
    instances.remove(0).1
}

#[tokio::test]
async fn projections_and_sagas_expand_where_prelude_names_are_shadowed() {
    use shadowed::*;
    assert_eq!(
        Movements::EVENTS,
        ["hygiene.Deposited", "hygiene.Withdrawn"]
    );
    let mut movements = Movements::default();
    let credited = eventsource_tests::stored("hygiene.Credited", 1, r#"{"amount":"7"}"#);
    assert!(movements.handle(&credited, &mut ()).await.expect("handled"));
    let negative = eventsource_tests::stored("hygiene.Deposited", 2, r#"{"amount":-1}"#);
    let error = movements.handle(&negative, &mut ()).await.unwrap_err();
    assert_eq!(error.to_string(), "a negative deposit");
    let withdrawn = eventsource_tests::stored("hygiene.Withdrawn", 1, r#"{"amount":2}"#);
    assert!(
        movements
            .handle(&withdrawn, &mut ())
            .await
            .expect("handled")
    );
    let ticked = eventsource_tests::stored("hygiene.Ticked", 2, r#"{"by":1}"#);
    assert!(!movements.handle(&ticked, &mut ()).await.expect("ignored"));
    assert_eq!(movements.seen, [(7, 1), (-2, 0)]);
    movements.reset(&mut ()).await.expect("reset");
    assert!(movements.seen.is_empty());

    assert!(FirstDeposit::starts(&credited));
    assert!(!FirstDeposit::starts(&withdrawn));
    let instance = run_saga::<FirstDeposit>(&credited).await;
    assert!(instance.completed);
    assert_eq!(instance.state, r#"{"amount":7}"#);
}

#[tokio::test]
async fn projections_expand_where_primitive_types_are_shadowed() {
    let mut count = primitives::TickCount::default();
    let ticked = eventsource_tests::stored("hygiene.Ticked", 2, r#"{"by":4}"#);
    assert!(count.handle(&ticked, &mut ()).await.expect("handled"));
    assert_eq!(count.ticks, 4);
}

#[tokio::test]
async fn projections_and_sagas_expand_without_the_prelude() {
    use no_prelude::*;
    const { assert!(ClockView::TRANSACTIONAL) };
    let mut tally = Tally { total: 0 };
    let ticked = eventsource_tests::stored("hygiene.Ticked", 2, r#"{"by":3}"#);
    assert!(
        ClockView
            .handle(&ticked, &mut tally)
            .await
            .expect("handled")
    );
    assert_eq!(tally.total, 3);
    ClockView.reset(&mut tally).await.expect("reset");
    assert_eq!(tally.total, 0);

    let instance = run_saga::<Alarm>(&ticked).await;
    assert!(instance.completed);
    assert_eq!(instance.state, r#"{"rang":true}"#);
}

#[test]
fn registry_is_valid() {
    eventsource::testing::assert_registry_valid();
}
