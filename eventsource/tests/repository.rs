//! The repository and command bus on the in-memory store.

mod support;

use std::sync::Arc;

use async_trait::async_trait;
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::store::{AppendResult, EventStream, Snapshot, Subscription};
use eventsource::{CommandError, Error, RetryPolicy, StoreError};
use eventsource::{DecodeErrorKind, uuid::Uuid};
use futures::TryStreamExt;
use support::*;

fn repo(store: &InMemoryStore) -> Repository<Ledger> {
    Repository::new(store.clone()).unwrap()
}

async fn stream(store: &InMemoryStore, id: &str) -> Vec<RecordedEvent> {
    store
        .read_stream(&format!("test.Ledger-{id}"), 1)
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn executes_commands_and_loads_the_result() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    let opened = repo.execute(open("a")).await.unwrap();
    assert_eq!(opened.version, 1);
    assert_eq!(&*opened.stream_id, "test.Ledger-a");
    let credited = repo.execute(credit("a", 40)).await.unwrap();
    assert_eq!(credited.version, 2);
    assert_eq!(credited.state.balance, 40);
    assert_eq!(credited.attempts, 1);
    let appended = credited.appended.unwrap();
    assert_eq!((appended.first_version, appended.last_version), (2, 2));

    let loaded = repo.load("a").await.unwrap().unwrap();
    assert_eq!(loaded.version, 2);
    assert_eq!(loaded.state.balance, 40);
    assert_eq!(loaded.state.owner, "owner");
    assert_eq!(loaded.events_applied, 2);
    assert!(repo.load("missing").await.unwrap().is_none());
}

#[tokio::test]
async fn creation_policies_are_enforced() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    match repo.execute(credit("nobody", 1)).await {
        Err(CommandError::Failed(Error::NotFound {
            aggregate,
            stream_id,
        })) => {
            assert_eq!(aggregate, "test.Ledger");
            assert_eq!(&*stream_id, "test.Ledger-nobody");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    repo.execute(open("b")).await.unwrap();
    match repo.execute(open("b")).await {
        Err(CommandError::Failed(Error::AlreadyExists { version, .. })) => assert_eq!(version, 1),
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(stream(&store, "b").await.len(), 1);
}

#[tokio::test]
async fn an_empty_aggregate_id_is_refused_and_creates_nothing() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    let is_empty_id = |error: &Error| match error {
        Error::Store(StoreError::Invalid(invalid)) => {
            invalid.field() == Some(eventsource::store::RequestField::AggregateId)
                && invalid.to_string() == "`aggregate_id` is empty (aggregate `test.Ledger`)"
        }
        _ => false,
    };
    match repo.execute(open("")).await {
        Err(CommandError::Failed(error)) if is_empty_id(&error) => {}
        other => panic!("expected an empty aggregate id to be refused, got {other:?}"),
    }
    match repo.load("").await {
        Err(error) if is_empty_id(&error) => {}
        other => panic!("expected an empty aggregate id to be refused, got {other:?}"),
    }
    assert_eq!(store.head_position().await.unwrap(), 0);
}

#[tokio::test]
async fn create_if_missing_with_no_events_writes_nothing() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    let nothing = repo
        .execute(Note {
            id: "n".into(),
            text: String::new(),
        })
        .await
        .unwrap();
    assert!(nothing.events.is_empty());
    assert!(nothing.appended.is_none());
    assert_eq!(nothing.version, 0);
    assert!(store.is_empty());

    let noted = repo
        .execute(Note {
            id: "n".into(),
            text: "hello".into(),
        })
        .await
        .unwrap();
    assert_eq!(noted.version, 1);
    assert_eq!(noted.state.notes, ["hello"]);
}

#[tokio::test]
async fn a_rejected_command_appends_nothing() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    repo.execute(open("r")).await.unwrap();
    repo.execute(credit("r", 10)).await.unwrap();
    let err = repo.execute(debit("r", 11)).await.unwrap_err();
    assert_eq!(
        err.rejection(),
        Some(&LedgerError::Insufficient {
            balance: 10,
            wanted: 11
        })
    );
    assert_eq!(
        err.to_string(),
        "command rejected: balance 10 cannot cover 11"
    );
    assert_eq!(stream(&store, "r").await.len(), 2);
}

#[tokio::test]
async fn several_events_are_appended_atomically_in_order() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    repo.execute(open("m")).await.unwrap();
    let done = repo
        .execute(CreditMany {
            id: "m".into(),
            amounts: vec![1, 2, 3],
        })
        .await
        .unwrap();
    assert_eq!(done.events.len(), 3);
    assert_eq!(done.version, 4);
    assert_eq!(done.state.balance, 6);
    let events = stream(&store, "m").await;
    let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, [1, 2, 3, 4]);
    assert!(
        events[1..]
            .iter()
            .all(|e| &*e.event_name == "test.Credited")
    );
}

#[tokio::test]
async fn metadata_flows_from_command_to_events_and_handler() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    let plain = repo.execute(open("meta")).await.unwrap();
    let first = &stream(&store, "meta").await[0];
    assert_eq!(first.metadata.correlation_id, Some(plain.command_id));
    assert_eq!(first.metadata.causation_id, Some(plain.command_id));
    assert_eq!(first.event_id.get_version_num(), 7, "event ids are UUID v7");

    let correlation = Uuid::now_v7();
    let metadata = Metadata::new()
        .with_correlation_id(correlation)
        .with_actor("alice")
        .with_header("tenant", "t1");
    let credited = repo
        .execute_with(credit("meta", 5), metadata)
        .await
        .unwrap();
    let second = &stream(&store, "meta").await[1];
    assert_eq!(second.metadata.correlation_id, Some(correlation));
    assert_eq!(second.metadata.causation_id, Some(credited.command_id));
    assert_eq!(second.metadata.actor.as_deref(), Some("alice"));
    assert_eq!(second.metadata.headers["tenant"], "t1");

    // A command caused by an event keeps the chain: same correlation, the
    // event as cause.
    let caused = Metadata::caused_by(second).with_actor("auditor");
    repo.execute_with(debit("meta", 1_000), caused)
        .await
        .unwrap();
    let third = &stream(&store, "meta").await[2];
    assert_eq!(third.metadata.correlation_id, Some(correlation));
    assert_eq!(third.metadata.causation_id, Some(second.event_id));
    assert_eq!(
        third.payload.as_ref(),
        r#"{"amount":0}"#,
        "the handler saw the actor"
    );
}

/// A store where another writer slips one event in before the first append.
struct Interloper {
    inner: InMemoryStore,
    sneak: std::sync::Mutex<Option<NewEvent>>,
}

impl Interloper {
    fn new<E: Event>(inner: &InMemoryStore, sneak: E) -> Self {
        Self {
            inner: inner.clone(),
            sneak: std::sync::Mutex::new(Some(
                NewEvent::from_event(&sneak, Metadata::new()).unwrap(),
            )),
        }
    }
}

#[async_trait]
impl EventStore for Interloper {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let sneak = self.sneak.lock().unwrap().take();
        if let Some(sneaky) = sneak {
            self.inner
                .append(
                    stream_id,
                    aggregate_type,
                    ExpectedVersion::Any,
                    vec![sneaky],
                )
                .await?;
        }
        self.inner
            .append(stream_id, aggregate_type, expected, events)
            .await
    }
    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        self.inner.read_stream(stream_id, from_version)
    }
    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        self.inner.read_all(from_position, filter)
    }
    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        self.inner.subscribe(from_position, filter)
    }
    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream_id).await
    }
    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }
}

#[tokio::test]
async fn a_conflict_reloads_and_reruns_the_handler() {
    let inner = InMemoryStore::new();
    repo(&inner).execute(open("c")).await.unwrap();
    let racy =
        Repository::<Ledger>::new(Interloper::new(&inner, Credited { amount: 100 })).unwrap();
    let done = racy.execute(credit("c", 5)).await.unwrap();
    assert_eq!(done.attempts, 2);
    assert_eq!(done.version, 3);
    assert_eq!(done.state.balance, 105);

    // The retry decides again, on the state that won: the debit fit the
    // balance first loaded, but not the balance after the other writer.
    let racy = Repository::<Ledger>::new(Interloper::new(&inner, Debited { amount: 90 })).unwrap();
    let err = racy.execute(debit("c", 60)).await.unwrap_err();
    assert_eq!(
        err.rejection(),
        Some(&LedgerError::Insufficient {
            balance: 15,
            wanted: 60
        })
    );
}

#[tokio::test]
async fn retries_are_bounded() {
    let inner = InMemoryStore::new();
    repo(&inner).execute(open("d")).await.unwrap();
    let racy = Repository::<Ledger>::new(Interloper::new(&inner, Credited { amount: 1 }))
        .unwrap()
        .with_retry(RetryPolicy::none());
    let err = racy.execute(credit("d", 1)).await.unwrap_err();
    assert!(err.is_conflict());
    // The interloper writes once only: a second run would have succeeded,
    // so this conflict is the first run's, returned without a retry.
    match err {
        CommandError::Failed(Error::Store(StoreError::Conflict {
            stream_id,
            expected,
            actual,
        })) => {
            assert_eq!(&*stream_id, "test.Ledger-d");
            assert_eq!(expected, ExpectedVersion::Exact(1));
            assert_eq!(actual, Some(2));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[tokio::test]
async fn a_stated_expected_version_is_checked_and_never_retried() {
    let inner = InMemoryStore::new();
    repo(&inner).execute(open("e")).await.unwrap();
    let at_one = repo(&inner)
        .execute_expecting(credit("e", 5), Metadata::new(), ExpectedVersion::Exact(1))
        .await
        .unwrap();
    assert_eq!(at_one.version, 2);

    // Stale on load: refused before the handler runs, nothing appended.
    let stale = repo(&inner)
        .execute_expecting(credit("e", 5), Metadata::new(), ExpectedVersion::Exact(1))
        .await
        .unwrap_err();
    match stale {
        CommandError::Failed(Error::Store(StoreError::Conflict {
            expected, actual, ..
        })) => {
            assert_eq!(expected, ExpectedVersion::Exact(1));
            assert_eq!(actual, Some(2));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(stream(&inner, "e").await.len(), 2);

    // Overtaken between load and append: the conflict is returned, not
    // retried on the newer state (a retry would have succeeded).
    let racy = Repository::<Ledger>::new(Interloper::new(&inner, Credited { amount: 1 })).unwrap();
    let overtaken = racy
        .execute_expecting(credit("e", 5), Metadata::new(), ExpectedVersion::Exact(2))
        .await
        .unwrap_err();
    assert!(overtaken.is_conflict(), "{overtaken:?}");
    assert_eq!(stream(&inner, "e").await.len(), 3);

    // The bus states it the same way.
    let bus = CommandBus::new(inner.clone()).unwrap();
    let done = bus
        .dispatch_expecting(credit("e", 1), Metadata::new(), ExpectedVersion::Exact(3))
        .await
        .unwrap();
    assert_eq!(done.version, 4);
    let refused = bus
        .dispatch_expecting(credit("e", 1), Metadata::new(), ExpectedVersion::NoStream)
        .await
        .unwrap_err();
    assert!(refused.is_conflict(), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commands_on_one_aggregate_all_land() {
    let store = InMemoryStore::new();
    let repo = repo(&store).with_retry(RetryPolicy::attempts(100));
    repo.execute(open("hot")).await.unwrap();
    let tasks: Vec<_> = (1..=16)
        .map(|amount| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.execute(credit("hot", amount)).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let loaded = repo.load("hot").await.unwrap().unwrap();
    assert_eq!(loaded.version, 17);
    assert_eq!(loaded.state.balance, (1..=16).sum::<i64>());
}

#[tokio::test]
async fn snapshots_are_taken_on_policy_and_used_on_load() {
    let store = InMemoryStore::new();
    let repo = repo(&store).with_snapshots(store.clone());
    repo.execute(open("s")).await.unwrap();
    let mut saved_at = Vec::new();
    for amount in 1..=9 {
        let done = repo.execute(credit("s", amount)).await.unwrap();
        if done.snapshot_saved {
            saved_at.push(done.version);
        }
    }
    assert_eq!(saved_at, [4, 8]);
    let snapshot = SnapshotStore::load(&store, "test.Ledger-s")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snapshot.version, 8);
    assert_eq!(snapshot.revision, Ledger::SNAPSHOT_REVISION);

    let loaded = repo.load("s").await.unwrap().unwrap();
    assert_eq!(loaded.snapshot_version, Some(8));
    assert_eq!(loaded.events_applied, 2);
    assert_eq!(loaded.version, 10);
    assert_eq!(loaded.state.balance, 45);
    assert_eq!(loaded.state.applied, 10);

    // A load before the snapshot's version replays from the start.
    let early = repo.load_at_version("s", 3).await.unwrap().unwrap();
    assert_eq!(early.snapshot_version, None);
    assert_eq!(early.state.balance, 3);

    // Without a snapshot store the same state comes from the events alone.
    let plain = Repository::<Ledger>::new(store.clone()).unwrap();
    let replayed = plain.load("s").await.unwrap().unwrap();
    assert_eq!(replayed.snapshot_version, None);
    assert_eq!(replayed.state, loaded.state);
}

#[tokio::test]
async fn snapshots_of_another_revision_or_unreadable_are_ignored() {
    let store = InMemoryStore::new();
    let repo = repo(&store).with_snapshots(store.clone());
    repo.execute(open("x")).await.unwrap();
    repo.execute(credit("x", 7)).await.unwrap();
    let bogus = |revision: u64, state: &str| Snapshot {
        stream_id: "test.Ledger-x".into(),
        aggregate_type: "test.Ledger".into(),
        version: 2,
        revision,
        state: state.into(),
        taken_at: eventsource::chrono::Utc::now(),
    };
    // Same shape, other revision: would decode, must not be used.
    let other = r#"{"owner":"wrong","balance":999,"notes":[],"applied":2}"#;
    store
        .save(bogus(Ledger::SNAPSHOT_REVISION + 1, other))
        .await
        .unwrap();
    let loaded = repo.load("x").await.unwrap().unwrap();
    assert_eq!(loaded.snapshot_version, None);
    assert_eq!(loaded.state.balance, 7);

    store.delete("test.Ledger-x").await.unwrap();
    store
        .save(bogus(Ledger::SNAPSHOT_REVISION, "{not json"))
        .await
        .unwrap();
    let loaded = repo.load("x").await.unwrap().unwrap();
    assert_eq!(loaded.snapshot_version, None);
    assert_eq!(loaded.state.balance, 7);
}

#[tokio::test]
async fn snapshot_interval_can_be_overridden() {
    let store = InMemoryStore::new();
    let repo = repo(&store)
        .with_snapshots(store.clone())
        .with_snapshot_every(None);
    repo.execute(open("o")).await.unwrap();
    for _ in 0..5 {
        assert!(!repo.execute(credit("o", 1)).await.unwrap().snapshot_saved);
    }
    // At version 6 now: an interval of 2 saves at 8, not at 7.
    let every_two = repo.clone().with_snapshot_every(Some(2));
    assert!(
        !every_two
            .execute(credit("o", 1))
            .await
            .unwrap()
            .snapshot_saved
    );
    assert!(
        every_two
            .execute(credit("o", 1))
            .await
            .unwrap()
            .snapshot_saved
    );
}

#[tokio::test]
async fn loads_as_of_a_version_and_a_time() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    repo.execute(open("t")).await.unwrap();
    repo.execute(credit("t", 10)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let between = eventsource::chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    repo.execute(credit("t", 20)).await.unwrap();

    let v2 = repo.load_at_version("t", 2).await.unwrap().unwrap();
    assert_eq!((v2.version, v2.state.balance), (2, 10));
    let at = repo.load_at_time("t", between).await.unwrap().unwrap();
    assert_eq!((at.version, at.state.balance), (2, 10));
    let before = eventsource::chrono::DateTime::UNIX_EPOCH;
    assert!(repo.load_at_time("t", before).await.unwrap().is_none());
    let past_end = repo.load_at_version("t", 99).await.unwrap().unwrap();
    assert_eq!(past_end.version, 3);
}

#[tokio::test]
async fn bad_stored_events_are_typed_errors_naming_the_record() {
    let store = InMemoryStore::new();
    let repo = repo(&store);
    let write = |name: &str, version: u32, payload: &str| {
        NewEvent::new(name, version, payload, Metadata::new())
    };
    let cases = [
        (write("test.Unknown", 1, "{}"), "unknown"),
        // (A payload that is not JSON at all is refused at append.)
        (write("test.Credited", 1, r#"{"amount":"ten"}"#), "payload"),
        (write("test.Credited", 9, r#"{"amount":1}"#), "newer"),
    ];
    for (i, (event, kind)) in cases.into_iter().enumerate() {
        let id = format!("bad{i}");
        let stream_id = format!("test.Ledger-{id}");
        repo.execute(open(&id)).await.unwrap();
        let appended = store
            .append(
                &stream_id,
                "test.Ledger",
                ExpectedVersion::Exact(1),
                vec![event],
            )
            .await
            .unwrap();
        match repo.load(&id).await {
            Err(Error::Decode(err)) => {
                assert_eq!(&*err.stream_id, stream_id);
                assert_eq!(err.stream_version, 2);
                assert_eq!(err.global_position, appended.last_position);
                let matches = match (&err.kind, kind) {
                    (DecodeErrorKind::UnknownEvent { known }, "unknown") => {
                        known.contains(&"test.Credited")
                    }
                    (DecodeErrorKind::Payload(_), "payload") => true,
                    (DecodeErrorKind::NewerVersion { current: 1 }, "newer") => true,
                    _ => false,
                };
                assert!(matches, "{kind}: got {err}");
                assert!(err.to_string().contains(&stream_id), "{err}");
            }
            other => panic!("{kind}: expected a decode error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_bus_routes_commands_by_type() {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    bus.dispatch(open("bus")).await.unwrap();
    let done = bus.dispatch(credit("bus", 3)).await.unwrap();
    assert_eq!(done.state.balance, 3);
    let err = bus.dispatch(debit("bus", 4)).await.unwrap_err();
    assert!(matches!(
        err,
        CommandError::Rejected(LedgerError::Insufficient { .. })
    ));
    let loaded = bus
        .repository::<Ledger>()
        .load("bus")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(loaded.version, 2);
    let _shared: &Arc<dyn EventStore> = bus.store();
}
