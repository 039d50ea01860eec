//! The given / when / then aggregate fixture.

mod support;

use eventsource::prelude::*;
use eventsource::testing::AggregateFixture;
use eventsource::{CommandError, Error};
use support::*;

fn opened() -> Opened {
    Opened {
        owner: "ann".into(),
    }
}

#[test]
fn expects_events_from_a_history() {
    AggregateFixture::<Ledger>::given([
        LedgerEvent::from(opened()),
        Credited { amount: 10 }.into(),
    ])
    .when(debit("f", 4))
    .then_expect_events([Debited { amount: 4 }])
    .then_expect_state(|ledger| {
        assert_eq!(ledger.balance, 6);
        assert_eq!(ledger.applied, 3);
    });
}

#[test]
fn expects_domain_errors() {
    AggregateFixture::<Ledger>::given([opened()])
        .when(debit("f", 1))
        .then_expect_error(LedgerError::Insufficient {
            balance: 0,
            wanted: 1,
        });
}

#[test]
fn expects_no_events_and_several_events() {
    AggregateFixture::<Ledger>::new()
        .when(Note {
            id: "f".into(),
            text: String::new(),
        })
        .then_expect_no_events();
    AggregateFixture::<Ledger>::given([opened()])
        .when(CreditMany {
            id: "f".into(),
            amounts: vec![1, 2],
        })
        .then_expect_events([Credited { amount: 1 }, Credited { amount: 2 }]);
}

#[test]
fn applies_creation_policies_like_the_repository() {
    AggregateFixture::<Ledger>::new()
        .when(credit("f", 1))
        .then_expect_failure(|e| matches!(e, CommandError::Failed(Error::NotFound { .. })));
    AggregateFixture::<Ledger>::given([opened()])
        .when(open("f"))
        .then_expect_failure(|e| {
            matches!(
                e,
                CommandError::Failed(Error::AlreadyExists { version: 1, .. })
            )
        });
}

#[test]
fn passes_metadata_to_handlers() {
    AggregateFixture::<Ledger>::given([opened()])
        .with_metadata(Metadata::new().with_actor("auditor"))
        .when(debit("f", 100))
        .then_expect_events([Debited { amount: 0 }]);
}

#[test]
#[should_panic(expected = "the command produced other events")]
fn a_wrong_expectation_fails_the_test() {
    AggregateFixture::<Ledger>::given([opened()])
        .when(credit("f", 2))
        .then_expect_events([Credited { amount: 3 }]);
}

#[test]
#[should_panic(expected = "expected rejection")]
fn an_unexpected_success_fails_an_error_expectation() {
    AggregateFixture::<Ledger>::given([opened(), Opened { owner: "b".into() }])
        .and([Credited { amount: 5 }])
        .when(debit("f", 2))
        .then_expect_error(LedgerError::Insufficient {
            balance: 0,
            wanted: 2,
        });
}

#[test]
fn event_enums_clone_and_compare_when_their_events_do() {
    let history = vec![
        LedgerEvent::from(opened()),
        LedgerEvent::from(Credited { amount: 10 }),
    ];
    let again = history.clone();
    assert_eq!(history, again);
    assert_ne!(history[1], LedgerEvent::from(Credited { amount: 11 }));
    assert_ne!(history[0], history[1]);
    AggregateFixture::<Ledger>::given(again)
        .when(debit("f", 4))
        .then_expect_events([Debited { amount: 4 }]);
}
