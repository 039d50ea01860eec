//! The stream lifecycle through a repository: a deleted aggregate says so,
//! a truncated one loads from the snapshot saved as its baseline.

mod support;

use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::store::{DeleteMode, SnapshotStore};
use eventsource::{CommandError, Error, StoreError};
use support::*;

fn repo(store: &InMemoryStore) -> Repository<Ledger> {
    Repository::new(store.clone())
        .unwrap()
        .with_snapshots(store.clone())
        .with_snapshot_every(None)
}

#[tokio::test]
async fn a_truncated_aggregate_loads_from_its_baseline() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    repo.execute(open("a")).await.unwrap();
    for amount in 1..=5 {
        repo.execute(credit("a", amount)).await.unwrap();
    }
    let truncation = repo.truncate_before("a", 4).await.unwrap();
    assert_eq!(truncation.removed, 3);
    let snapshot = SnapshotStore::load(&store, "test.Ledger-a")
        .await
        .unwrap()
        .expect("the baseline snapshot");
    assert_eq!(snapshot.version, 3);
    let loaded = repo.load("a").await.unwrap().unwrap();
    assert_eq!(loaded.version, 6);
    assert_eq!(loaded.state.balance, 15);
    assert_eq!(loaded.snapshot_version, Some(3));
    assert_eq!(loaded.events_applied, 3);
    repo.execute(credit("a", 10)).await.unwrap();
    assert_eq!(repo.load("a").await.unwrap().unwrap().state.balance, 25);

    match repo.truncate_before("a", 9).await {
        Err(Error::Store(StoreError::TruncateBeyondHead {
            before: 9, head: 7, ..
        })) => {}
        other => panic!("expected TruncateBeyondHead, got {other:?}"),
    }
    match repo.truncate_before("missing", 1).await {
        Err(Error::Store(StoreError::StreamNotFound { .. })) => {}
        other => panic!("expected StreamNotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_aggregate_refuses_loads_and_commands() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    repo.execute(open("a")).await.unwrap();
    repo.execute(credit("a", 3)).await.unwrap();
    store
        .delete_stream("test.Ledger-a", DeleteMode::Hard)
        .await
        .unwrap();
    match repo.load("a").await {
        Err(Error::Store(StoreError::StreamDeleted { stream_id })) => {
            assert_eq!(&*stream_id, "test.Ledger-a")
        }
        other => panic!("expected StreamDeleted, got {other:?}"),
    }
    match repo.execute(credit("a", 1)).await {
        Err(CommandError::Failed(Error::Store(StoreError::StreamDeleted { .. }))) => {}
        other => panic!("expected StreamDeleted, got {other:?}"),
    }
    store.recreate_stream("test.Ledger-a").await.unwrap();
    assert!(repo.load("a").await.unwrap().is_none());
    repo.execute(open("a")).await.unwrap();
    assert_eq!(repo.load("a").await.unwrap().unwrap().version, 1);
}
