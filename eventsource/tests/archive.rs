//! Archiving through the runtime, in memory: the policy (age, closed
//! aggregates), loads that read the archive and say so, loads from a
//! snapshot that need no archive, the export written and read back, and
//! truncation by policy behind snapshots.

use std::time::Duration;

use eventsource::archive::{
    ArchiveError, ArchiveJob, ArchivePhase, ArchivePolicy, Closable, ExportOptions, TruncateJob,
    TruncatePolicy, export, read_export,
};
use eventsource::clock::Clock;
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::store::{Snapshot, SnapshotStore};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "memarch.Added")]
struct Added {
    n: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "memarch.Closed")]
struct Closed {}

#[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "memarch.Tab", snapshot_every = 1_000)]
struct Tab {
    total: u64,
    closed: bool,
}

#[aggregate_impl]
impl Tab {
    #[event_sourcing_handler]
    fn on_added(&mut self, e: &Added) {
        self.total += e.n;
    }

    #[event_sourcing_handler]
    fn on_closed(&mut self, _: &Closed) {
        self.closed = true;
    }
}

impl Closable for Tab {
    fn is_closed(&self) -> bool {
        self.closed
    }
}

const TYPE: &str = "memarch.Tab";

async fn tab(store: &InMemoryStore, id: &str, adds: u64, close: bool) {
    let mut events: Vec<NewEvent> = (1..=adds)
        .map(|n| NewEvent::from_event(&Added { n }, Metadata::new()).unwrap())
        .collect();
    if close {
        events.push(NewEvent::from_event(&Closed {}, Metadata::new()).unwrap());
    }
    store
        .append(id, TYPE, ExpectedVersion::NoStream, events)
        .await
        .unwrap();
}

#[tokio::test]
async fn closed_tabs_move_and_load_from_the_archive_or_a_snapshot() {
    let store = InMemoryStore::new();
    tab(&store, "tab-1", 4, true).await;
    tab(&store, "tab-2", 4, true).await;
    tab(&store, "tab-3", 4, false).await;
    let repository = Repository::<Tab>::new(store.clone())
        .unwrap()
        .with_snapshots(store.clone());
    let policy =
        ArchivePolicy::for_aggregate::<Tab>(Duration::ZERO).closed_only(repository.clone());
    let mut phases = Vec::new();
    let report = ArchiveJob::new(store.clone(), policy)
        .run(|at| phases.push(at.phase))
        .await
        .unwrap();
    assert_eq!(
        (
            report.streams_matched,
            report.streams_open,
            report.streams_archived
        ),
        (3, 1, 2)
    );
    assert_eq!(report.events_moved, 8);
    assert!(phases.contains(&ArchivePhase::Checking));
    assert_eq!(phases.last(), Some(&ArchivePhase::Done));

    // No snapshot: the archive fills the history, and the load says so.
    let loaded = repository.load_stream("tab-1").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.total), (5, 10));
    assert_eq!((loaded.events_applied, loaded.archived_events), (5, 4));
    let open = repository.load_stream("tab-3").await.unwrap().unwrap();
    assert_eq!(open.archived_events, 0);

    // A snapshot at the last version: nothing is read from the archive.
    SnapshotStore::save(
        &store,
        Snapshot {
            stream_id: "tab-2".into(),
            aggregate_type: TYPE.into(),
            version: 5,
            revision: Tab::SNAPSHOT_REVISION,
            state: serde_json::to_string(&Tab {
                total: 10,
                closed: true,
            })
            .unwrap()
            .into(),
            taken_at: Clock::current().now(),
        },
    )
    .await
    .unwrap();
    let loaded = repository.load_stream("tab-2").await.unwrap().unwrap();
    assert_eq!(loaded.snapshot_version, Some(5));
    assert_eq!((loaded.events_applied, loaded.archived_events), (0, 0));

    // An append after archiving continues the stream; the next run moves
    // the old last event.
    let more = NewEvent::from_event(&Added { n: 100 }, Metadata::new()).unwrap();
    store
        .append("tab-1", TYPE, ExpectedVersion::Exact(5), vec![more])
        .await
        .unwrap();
    let loaded = repository.load_stream("tab-1").await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.state.total, loaded.archived_events),
        (6, 110, 4)
    );

    // A policy that matches nothing.
    let young = ArchivePolicy::for_aggregate::<Tab>(Duration::from_secs(3_600));
    assert!(matches!(
        ArchiveJob::new(store.clone(), young).run(|_| {}).await,
        Err(ArchiveError::NothingMatches { .. })
    ));
}

#[tokio::test]
async fn an_export_reads_back_as_the_archived_events() {
    let store = InMemoryStore::new();
    for i in 0..5 {
        tab(&store, &format!("tab-{i}"), 9, true).await;
    }
    let ids: Vec<String> = (0..5).map(|i| format!("tab-{i}")).collect();
    store.archive_streams(&ids).await.unwrap();
    let archived: Vec<RecordedEvent> = store.read_archive(1, u64::MAX).try_collect().await.unwrap();
    assert_eq!(archived.len(), 45);

    let dir = std::env::temp_dir().join(format!(
        "eventsource-export-{}",
        eventsource::uuid::Uuid::now_v7().simple()
    ));
    let mut files = 0;
    let manifest = export(
        &store,
        &dir,
        ExportOptions {
            events_per_file: 20,
            ..ExportOptions::default()
        },
        |at| files = at.files,
    )
    .await
    .unwrap();
    assert_eq!((manifest.events, manifest.files.len(), files), (45, 3, 3));
    let (read, events) = read_export(&dir).unwrap();
    assert_eq!(read, manifest);
    assert_eq!(events, archived);

    // A manifest that does not match its files is refused, and so is a
    // damaged file.
    let mut tampered = manifest.clone();
    tampered.files[1].events += 1;
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec(&tampered).unwrap(),
    )
    .unwrap();
    assert!(matches!(
        read_export(&dir),
        Err(ArchiveError::InvalidExport { .. })
    ));
    std::fs::write(dir.join(&manifest.files[1].name), b"not gzip").unwrap();
    assert!(matches!(
        read_export(&dir),
        Err(ArchiveError::Io { .. } | ArchiveError::InvalidExport { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn truncation_by_policy_keeps_the_last_versions_behind_snapshots() {
    let store = InMemoryStore::new();
    tab(&store, "tab-1", 10, false).await;
    tab(&store, "tab-2", 10, false).await;
    let repository = Repository::<Tab>::new(store.clone())
        .unwrap()
        .with_snapshots(store.clone());
    // Without a snapshot anywhere: a typed refusal, nothing removed.
    let policy = TruncatePolicy::new(TYPE, 3);
    assert!(matches!(
        TruncateJob::new(store.clone(), store.clone(), policy.clone())
            .run(|_| {})
            .await,
        Err(ArchiveError::NoBaseline { .. })
    ));
    assert_eq!(store.len(), 20);

    // A snapshot of `tab-1` at version 9: keep 8..=10 (the last three).
    let state = Tab {
        total: (1..=9).sum(),
        closed: false,
    };
    SnapshotStore::save(
        &store,
        Snapshot {
            stream_id: "tab-1".into(),
            aggregate_type: TYPE.into(),
            version: 9,
            revision: Tab::SNAPSHOT_REVISION,
            state: serde_json::to_string(&state).unwrap().into(),
            taken_at: Clock::current().now(),
        },
    )
    .await
    .unwrap();
    let report = TruncateJob::new(store.clone(), store.clone(), policy)
        .run(|_| {})
        .await
        .unwrap();
    assert_eq!(
        (
            report.streams_truncated,
            report.streams_without_baseline,
            report.events_removed
        ),
        (1, 1, 7)
    );
    let loaded = repository.load_stream("tab-1").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.state.total), (10, 55));
    assert!(matches!(
        TruncateJob::new(store.clone(), store.clone(), TruncatePolicy::new(TYPE, 0))
            .run(|_| {})
            .await,
        Err(ArchiveError::InvalidPolicy(_))
    ));
}
