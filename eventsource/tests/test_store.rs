//! The scripted test store: a rendezvous of appends, injected conflicts and
//! failures, each observed through the repository that meets them.

mod support;

use std::time::Duration;

use eventsource::prelude::*;
use eventsource::store::{EventStore, ExpectedVersion, StoreError};
use eventsource::testing::TestStore;
use eventsource::{CommandError, Error, RetryPolicy};
use support::*;

fn repo(store: &TestStore) -> Repository<Ledger> {
    Repository::<Ledger>::new(store.clone()).unwrap()
}

#[tokio::test]
async fn held_appends_make_a_real_race_that_one_command_retries() {
    let store = TestStore::new();
    repo(&store).execute(open("r")).await.unwrap();
    store.hold_appends(2, Duration::from_secs(10));
    let (first, second) = (repo(&store), repo(&store));
    let (a, b) = tokio::join!(
        first.execute(credit("r", 5)),
        second.execute(credit("r", 7)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // Both decided on version 1; the rendezvous let neither append first,
    // so exactly one lost the race and ran again on the winner's state.
    let mut attempts = [a.attempts, b.attempts];
    attempts.sort_unstable();
    assert_eq!(attempts, [1, 2]);
    assert_eq!(a.version.max(b.version), 3);
    assert_eq!(
        store.stream_version("test.Ledger-r").await.unwrap(),
        Some(3)
    );
    assert_eq!(store.counts().appends, 4);
}

#[tokio::test(start_paused = true)]
async fn a_held_append_that_waits_alone_fails_after_its_timeout() {
    let store = TestStore::new();
    store.hold_appends(2, Duration::from_secs(5));
    let alone = repo(&store).with_retry(RetryPolicy::none());
    let err = alone.execute(open("alone")).await.unwrap_err();
    match err {
        CommandError::Failed(Error::Store(StoreError::Backend(source))) => {
            assert!(
                source.to_string().contains("2 appends were to meet"),
                "{source}"
            );
        }
        other => panic!("expected the rendezvous to time out, got {other:?}"),
    }
    assert_eq!(
        store.stream_version("test.Ledger-alone").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn injected_conflicts_carry_the_real_version_and_are_retried() {
    let store = TestStore::new();
    repo(&store).execute(open("c")).await.unwrap();
    store.conflict_next_appends(2);
    let done = repo(&store).execute(credit("c", 5)).await.unwrap();
    assert_eq!(done.attempts, 3);
    assert_eq!(done.version, 2);
    assert_eq!(store.counts().injected_conflicts, 2);

    store.conflict_next_appends(1);
    let once = repo(&store).with_retry(RetryPolicy::none());
    let err = once.execute(credit("c", 1)).await.unwrap_err();
    match err {
        CommandError::Failed(Error::Store(StoreError::Conflict {
            expected, actual, ..
        })) => {
            assert_eq!(expected, ExpectedVersion::Exact(2));
            assert_eq!(actual, Some(2));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Nothing was stored by the refused appends.
    assert_eq!(
        store.stream_version("test.Ledger-c").await.unwrap(),
        Some(2)
    );
}

#[tokio::test]
async fn the_next_calls_fail_then_the_store_answers_again() {
    let store = TestStore::new();
    repo(&store).execute(open("f")).await.unwrap();
    store.fail_next_calls(2);
    assert!(matches!(
        store.head_position().await,
        Err(StoreError::Connection(_))
    ));
    let err = repo(&store).execute(credit("f", 1)).await.unwrap_err();
    assert!(
        matches!(
            err,
            CommandError::Failed(Error::Store(StoreError::Connection(_)))
        ),
        "{err:?}"
    );
    assert_eq!(store.counts().injected_failures, 2);
    assert_eq!(store.head_position().await.unwrap(), 1);
    repo(&store).execute(credit("f", 1)).await.unwrap();
    assert_eq!(store.head_position().await.unwrap(), 2);
}
