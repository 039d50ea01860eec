//! `admin stream delete | recreate | truncate` on a store: what each does,
//! and the exit code of each refusal.

use eventsource::memory::InMemoryStore;
use eventsource::ops::Operations;
use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::{Metadata, NewEvent, StoreError};
use eventsource_admin::{Exit, run};
use futures::TryStreamExt;

async fn three_events(store: &InMemoryStore, stream: &str) {
    let events = (0..3)
        .map(|i| NewEvent::new("admin.Noted", 1, format!(r#"{{"n":{i}}}"#), Metadata::new()))
        .collect();
    store
        .append(stream, "admin.Note", ExpectedVersion::NoStream, events)
        .await
        .unwrap();
}

async fn admin(store: &InMemoryStore, args: &[&str]) -> Exit {
    run(Operations::new(store.clone()), args.iter().copied()).await
}

#[tokio::test]
async fn stream_lifecycle_commands() {
    let store = InMemoryStore::new();
    three_events(&store, "a").await;
    three_events(&store, "b").await;

    assert_eq!(
        admin(&store, &["stream", "truncate", "a", "--before", "2"]).await,
        Exit::Ok
    );
    let a: Vec<_> = store.read_stream("a", 1).try_collect().await.unwrap();
    assert_eq!(
        a.iter().map(|e| e.stream_version).collect::<Vec<_>>(),
        [2, 3]
    );
    assert_eq!(
        admin(&store, &["stream", "truncate", "a", "--before", "9"]).await,
        Exit::Usage,
        "a truncation beyond the head is refused"
    );

    assert_eq!(
        admin(&store, &["--json", "stream", "delete", "a"]).await,
        Exit::Ok
    );
    assert!(matches!(
        store
            .append("a", "admin.Note", ExpectedVersion::Any, vec![])
            .await,
        Err(StoreError::StreamDeleted { .. })
    ));
    assert_eq!(
        admin(&store, &["stream", "delete", "a", "--hard"]).await,
        Exit::Ok
    );
    let a: Vec<_> = store.read_stream("a", 1).try_collect().await.unwrap();
    assert_eq!(a.len(), 1, "only the tombstone is left");
    assert_eq!(
        admin(&store, &["stream", "delete", "a", "--hard"]).await,
        Exit::Usage,
        "a second hard delete is refused"
    );
    assert_eq!(
        admin(&store, &["stream", "delete", "missing"]).await,
        Exit::NotFound
    );
    assert_eq!(
        admin(&store, &["stream", "recreate", "b"]).await,
        Exit::Usage
    );
    assert_eq!(admin(&store, &["stream", "recreate", "a"]).await, Exit::Ok);
    assert_eq!(store.stream_version("a").await.unwrap(), None);
    assert_eq!(store.stream_version("b").await.unwrap(), Some(3));
}

#[tokio::test]
async fn subject_forget_command() {
    use eventsource::shredding::{InMemoryKeyStore, KeyStore, new_key};
    use std::sync::Arc;

    let keys = InMemoryKeyStore::new();
    keys.key_for_append("c-1", new_key()).await.unwrap();
    let store = InMemoryStore::new();
    let ops = || Operations::new(store.clone()).with_keys(Arc::new(keys.clone()));
    assert_eq!(run(ops(), ["subject", "forget", "c-1"]).await, Exit::Ok);
    assert!(keys.key("c-1").await.unwrap().is_none());
    assert!(matches!(
        keys.key_for_append("c-1", new_key()).await,
        Err(StoreError::SubjectForgotten { .. })
    ));
    assert_eq!(run(ops(), ["subject", "forget", ""]).await, Exit::Usage);
    assert_eq!(
        run(Operations::new(store.clone()), ["subject", "forget", "c-1"]).await,
        Exit::Unavailable,
        "without a key store the command says so"
    );
}
