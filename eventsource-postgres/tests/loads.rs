//! Aggregate loads on PostgreSQL: the lean stream read (no metadata, no
//! envelope) and the snapshot read together with the events after it give
//! the same aggregates as the full reads, whatever the snapshot.

mod common;

use std::sync::Arc;

use chrono::Utc;
use eventsource::prelude::*;
use eventsource::store::{RecordFields, Snapshot, SnapshotStore};
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgload.Added")]
struct Added {
    n: u64,
}

#[derive(Aggregate, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[aggregate(
    name = "pgload.Tally",
    snapshot_every = 1_000_000,
    snapshot_revision = 5
)]
struct Tally {
    count: u64,
    sum: u64,
    /// Depends on the order of the events, not only on which.
    digest: u64,
}

#[aggregate_impl]
impl Tally {
    #[event_sourcing_handler]
    fn on_added(&mut self, e: &Added) {
        self.count += 1;
        self.sum += e.n;
        self.digest = self.digest.wrapping_mul(31).wrapping_add(e.n);
    }
}

const EVENTS: u64 = 120;

/// Appends events 1..=`count` (with metadata) to the tally `id`, in batches of 7.
async fn seed(store: &PgEventStore, id: &str, count: u64) {
    let events: Vec<NewEvent> = (1..=count)
        .map(|n| {
            let metadata = Metadata::new()
                .with_actor("loads")
                .with_header("n", n.to_string());
            NewEvent::from_event(&Added { n: n * 3 + 1 }, metadata).unwrap()
        })
        .collect();
    let mut version = None;
    for chunk in events.chunks(7) {
        let done = store
            .append(
                &format!("{}-{id}", Tally::NAME),
                Tally::NAME,
                ExpectedVersion::from_current(version),
                chunk.to_vec(),
            )
            .await
            .unwrap();
        version = Some(done.last_version);
    }
}

/// The state of `id` at `version`, saved as its snapshot with `revision`.
async fn save_snapshot(store: &PgEventStore, id: &str, version: u64, revision: u64, state: &str) {
    SnapshotStore::save(
        store,
        Snapshot {
            stream_id: format!("{}-{id}", Tally::NAME).into(),
            aggregate_type: Tally::NAME.into(),
            version,
            revision,
            state: state.into(),
            taken_at: Utc::now(),
        },
    )
    .await
    .unwrap();
}

async fn state_at(repo: &Repository<Tally>, id: &str, version: u64) -> String {
    let loaded = repo.load_at_version(id, version).await.unwrap().unwrap();
    serde_json::to_string(&loaded.state).unwrap()
}

/// A stored snapshot: version, revision, state.
type Kept<'s> = (u64, u64, &'s str);

/// What a load returned, comparable.
type Outcome = Option<(Tally, u64, Option<u64>, u64)>;

async fn outcomes(repo: &Repository<Tally>, id: &str) -> Vec<Outcome> {
    let of = |l: Option<eventsource::Loaded<Tally>>| {
        l.map(|l| (l.state, l.version, l.snapshot_version, l.events_applied))
    };
    vec![
        of(repo.load(id).await.unwrap()),
        of(repo.load_at_version(id, 50).await.unwrap()),
        of(repo.load_at_version(id, 60).await.unwrap()),
        of(repo.load_at_version(id, EVENTS).await.unwrap()),
        of(repo.load_at_time(id, Utc::now()).await.unwrap()),
    ]
}

/// The statements this connection has prepared (the pool has one).
async fn prepared(store: &PgEventStore) -> Vec<String> {
    sqlx::query_scalar("SELECT statement FROM pg_prepared_statements")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_without_metadata_lends_the_same_events() {
    // Pages of 50: the reads continue over several.
    let store = common::store_with(4, |o| o.with_page_size(50)).await;
    seed(&store, "t1", EVENTS).await;
    let stream = format!("{}-t1", Tally::NAME);
    for from in [1, 2, 50, 51, 101, EVENTS, EVENTS + 1] {
        let full: Vec<RecordedEvent> = store
            .read_stream(&stream, from)
            .try_collect()
            .await
            .unwrap();
        let mut lean = Vec::new();
        store
            .visit_stream_with(&stream, from, RecordFields::REPLAY, &mut |r| {
                lean.extend_from_slice(r);
                true
            })
            .await
            .unwrap();
        assert_eq!(lean.len(), full.len(), "from {from}");
        for (lean, full) in lean.iter().zip(&full) {
            assert_eq!(lean.stream_id, full.stream_id);
            assert_eq!(lean.stream_version, full.stream_version);
            assert_eq!(lean.global_position, full.global_position);
            assert_eq!(lean.event_name, full.event_name);
            assert_eq!(lean.schema_version, full.schema_version);
            assert_eq!(lean.payload, full.payload);
            // Not read: placeholders.
            assert_eq!(*lean.metadata, Metadata::default());
            assert!(lean.event_id.is_nil());
            assert!(full.metadata.actor.is_some());
        }
    }
    // Asking for the metadata gets it.
    let mut with_metadata = Vec::new();
    store
        .visit_stream_with(&stream, 1, RecordFields::REPLAY.with_metadata(), &mut |r| {
            with_metadata.extend_from_slice(r);
            true
        })
        .await
        .unwrap();
    let full: Vec<RecordedEvent> = store.read_stream(&stream, 1).try_collect().await.unwrap();
    assert_eq!(with_metadata, full);

    let repo = Repository::<Tally>::new(store.clone()).unwrap();
    let loaded = repo.load("t1").await.unwrap().unwrap();
    let mut expected = Tally::default();
    for event in &full {
        let Added { n } = serde_json::from_str(&event.payload).unwrap();
        expected.on_added(&Added { n });
    }
    assert_eq!(loaded.state, expected);
    assert_eq!(loaded.version, EVENTS);
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_read_of_snapshot_and_events_loads_what_two_reads_load() {
    // One connection, so the test sees which statements the loads prepared;
    // pages of 50, so a tail continues past the first statement's page.
    let pool = common::pool(1, "eventsource-tests").await;
    let store = common::store_on(pool, |o| o.with_page_size(50)).await;
    // The same tables through another store value: its snapshots are not
    // this store's (another home), so loads read them apart, as before.
    let apart =
        PgEventStore::with_options(store.pool().clone(), PgStoreOptions::clone(store.options()));
    seed(&store, "t1", EVENTS).await;
    let plain = Repository::<Tally>::new(store.clone()).unwrap();
    let together = plain.clone().with_snapshots(store.clone());
    let separate = plain.clone().with_snapshots(apart.clone());

    let at_60 = state_at(&plain, "t1", 60).await;
    let at_head = state_at(&plain, "t1", EVENTS).await;
    let cases: [(&str, Option<Kept<'_>>); 7] = [
        ("no snapshot", None),
        (
            "a snapshot at 60",
            Some((60, Tally::SNAPSHOT_REVISION, &at_60)),
        ),
        (
            "a snapshot at the head",
            Some((EVENTS, Tally::SNAPSHOT_REVISION, &at_head)),
        ),
        // Ahead of the stream (its later events truncated away, say).
        (
            "a snapshot past the head",
            Some((EVENTS + 5, Tally::SNAPSHOT_REVISION, &at_head)),
        ),
        (
            "a snapshot of a newer revision",
            Some((60, Tally::SNAPSHOT_REVISION + 1, &at_60)),
        ),
        (
            "a snapshot of an older revision",
            Some((60, Tally::SNAPSHOT_REVISION - 1, &at_60)),
        ),
        (
            "a snapshot that does not decode",
            Some((60, Tally::SNAPSHOT_REVISION, r#"{"count":"x"}"#)),
        ),
    ];
    for (case, snapshot) in cases {
        SnapshotStore::delete(&store, &format!("{}-t1", Tally::NAME))
            .await
            .unwrap();
        if let Some((version, revision, state)) = snapshot {
            save_snapshot(&store, "t1", version, revision, state).await;
        }
        let one = outcomes(&together, "t1").await;
        let two = outcomes(&separate, "t1").await;
        assert_eq!(one, two, "{case}");
        let snapshot_used = one[0].as_ref().and_then(|o| o.2);
        match case {
            "a snapshot at 60" => assert_eq!(snapshot_used, Some(60)),
            "a snapshot at the head" => assert_eq!(snapshot_used, Some(EVENTS)),
            "a snapshot past the head" => assert_eq!(snapshot_used, Some(EVENTS + 5)),
            _ => assert_eq!(snapshot_used, None, "{case}"),
        }
    }
    // A stream without events: nothing, either way.
    assert_eq!(
        outcomes(&together, "none").await,
        outcomes(&separate, "none").await
    );

    // The loads through `together` read the snapshot with the events: on a
    // fresh connection, a load prepares that statement and not the
    // snapshot store's own.
    let fresh = PgEventStore::with_options(
        common::pool(1, "eventsource-tests").await,
        PgStoreOptions::clone(store.options()),
    );
    save_snapshot(&fresh, "t1", 60, Tally::SNAPSHOT_REVISION, &at_60).await;
    let repo = Repository::<Tally>::new(fresh.clone())
        .unwrap()
        .with_snapshots(fresh.clone());
    let loaded = repo.load("t1").await.unwrap().unwrap();
    assert_eq!(loaded.snapshot_version, Some(60));
    assert_eq!(loaded.version, EVENTS);
    let statements = prepared(&fresh).await;
    assert!(
        statements
            .iter()
            .any(|s| s.contains("WITH snapshot AS MATERIALIZED")),
        "the load read the snapshot and the events together: {statements:?}"
    );
    assert!(
        !statements
            .iter()
            .any(|s| s.starts_with("SELECT stream_id, aggregate_type, version, revision")),
        "the load read the snapshot on its own: {statements:?}"
    );
    fresh.pool().close().await;
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_up_to_a_version_stop_there_across_pages() {
    let store = common::store_with(2, |o| o.with_page_size(10)).await;
    seed(&store, "t1", 35).await;
    let repo = Repository::<Tally>::new(store.clone())
        .unwrap()
        .with_snapshots(store.clone());
    for version in [1, 9, 10, 11, 20, 34, 35, 40] {
        let loaded = repo.load_at_version("t1", version).await.unwrap().unwrap();
        assert_eq!(loaded.version, version.min(35));
        assert_eq!(loaded.state.count, version.min(35));
    }
    let shared: Arc<dyn EventStore> = Arc::new(store.clone());
    assert_eq!(
        shared.stream_version("pgload.Tally-t1").await.unwrap(),
        Some(35)
    );
    common::drop_schema(&store).await;
}
