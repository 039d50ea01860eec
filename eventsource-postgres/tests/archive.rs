//! Archiving on PostgreSQL at scale: a million events of closed streams
//! moved out of the hot table while a subscriber reads from position 0;
//! the hot table shrinks, archived streams load, a projection rebuilt from
//! 0 gives the same read model, the subscriber sees every event once, in
//! order. Then the bad requests, each a typed error with nothing lost.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventsource::StoreError;
use eventsource::archive::{ArchiveError, ArchiveJob, ArchivePolicy, Closable};
use eventsource::memory::InMemoryProjectionBackend;
use eventsource::prelude::*;
use eventsource::store::{DeleteMode, Snapshot, SnapshotStore, SubscriptionItem};
use eventsource_postgres::PgEventStore;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sqlx::AssertSqlSafe;

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgarch.Opened")]
struct Opened {}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgarch.Noted")]
struct Noted {
    n: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgarch.Closed")]
struct Closed {}

#[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "pgarch.Ticket", snapshot_every = 100_000)]
struct Ticket {
    notes: u64,
    sum: u64,
    closed: bool,
}

#[aggregate_impl]
impl Ticket {
    #[event_sourcing_handler]
    fn on_opened(&mut self, _: &Opened) {}

    #[event_sourcing_handler]
    fn on_noted(&mut self, e: &Noted) {
        self.notes += 1;
        self.sum += e.n;
    }

    #[event_sourcing_handler]
    fn on_closed(&mut self, _: &Closed) {
        self.closed = true;
    }
}

impl Closable for Ticket {
    fn is_closed(&self) -> bool {
        self.closed
    }
}

/// Per stream: events seen, the sum of the notes, the last version.
type Totals = BTreeMap<String, (u64, u64, u64)>;

/// A read model in memory: what a rebuild must reproduce.
struct TicketTotals {
    totals: Arc<Mutex<Totals>>,
}

impl TicketTotals {
    fn count(&self, meta: &RecordedEvent, n: u64) {
        let mut totals = self.totals.lock().unwrap();
        let row = totals.entry(meta.stream_id.to_string()).or_default();
        row.0 += 1;
        row.1 += n;
        row.2 = meta.stream_version;
    }
}

#[projection(name = "pgarch.totals")]
impl TicketTotals {
    fn on_opened(&mut self, _: &Opened, meta: &RecordedEvent) {
        self.count(meta, 0);
    }

    fn on_noted(&mut self, e: &Noted, meta: &RecordedEvent) {
        self.count(meta, e.n);
    }

    fn on_closed(&mut self, _: &Closed, meta: &RecordedEvent) {
        self.count(meta, 0);
    }

    #[reset]
    fn clear(&mut self) {
        self.totals.lock().unwrap().clear();
    }
}

const TYPE: &str = "pgarch.Ticket";
const CLOSED_STREAMS: u64 = 1_000;
/// Each closed stream: opened, 999 notes, closed; all but the last move.
const EVENTS_PER_STREAM: u64 = 1_001;
const OPEN_STREAMS: u64 = 20;
const WAIT: Duration = Duration::from_secs(300);

fn ticket_events(stream: u64, count: u64, close: bool) -> Vec<NewEvent> {
    (1..=count)
        .map(|version| {
            let event = if version == 1 {
                NewEvent::from_event(&Opened {}, Metadata::new())
            } else if close && version == count {
                NewEvent::from_event(&Closed {}, Metadata::new())
            } else {
                NewEvent::from_event(
                    &Noted {
                        n: stream * 10_000 + version,
                    },
                    Metadata::new(),
                )
            };
            event.unwrap()
        })
        .collect()
}

/// Appends the streams, four writers at a time, one append per stream,
/// and saves a snapshot of nine closed tickets in ten (so that most
/// closed checks load a snapshot, and the rest the archive). Returns each
/// event's position and id, in position order.
async fn seed(store: &PgEventStore) -> Vec<(u64, uuid::Uuid)> {
    let mut writers = Vec::new();
    for writer in 0..4u64 {
        let store = store.clone();
        writers.push(tokio::spawn(async move {
            let mut stored = Vec::new();
            for stream in (0..CLOSED_STREAMS + OPEN_STREAMS).filter(|s| s % 4 == writer) {
                let closed = stream < CLOSED_STREAMS;
                let count = if closed { EVENTS_PER_STREAM } else { 50 };
                let events = ticket_events(stream, count, closed);
                let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.event_id).collect();
                let stream_id = format!("ticket-{stream:05}");
                let done = store
                    .append(&stream_id, TYPE, ExpectedVersion::NoStream, events)
                    .await
                    .unwrap();
                // One append's positions are contiguous (see the crate docs).
                assert_eq!(done.last_position - done.first_position + 1, count);
                stored.extend((done.first_position..).zip(ids));
                if closed && stream % 10 != 0 {
                    let state = Ticket {
                        notes: count - 2,
                        sum: (2..count).map(|v| stream * 10_000 + v).sum(),
                        closed: true,
                    };
                    SnapshotStore::save(
                        &store,
                        Snapshot {
                            stream_id: stream_id.as_str().into(),
                            aggregate_type: TYPE.into(),
                            version: count,
                            revision: Ticket::SNAPSHOT_REVISION,
                            state: serde_json::to_string(&state).unwrap().into(),
                            taken_at: chrono::Utc::now(),
                        },
                    )
                    .await
                    .unwrap();
                }
            }
            stored
        }));
    }
    let mut stored = Vec::new();
    for writer in writers {
        stored.extend(writer.await.unwrap());
    }
    stored.sort_unstable();
    stored
}

async fn count(store: &PgEventStore, table: &str) -> i64 {
    let s = store.schema();
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{s}\".{table}"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap()
}

async fn hot_size(store: &PgEventStore) -> i64 {
    let s = store.schema();
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT pg_total_relation_size('\"{s}\".events')"
    )))
    .fetch_one(store.pool())
    .await
    .unwrap()
}

async fn vacuum(store: &PgEventStore, full: bool) {
    let s = store.schema();
    let how = if full { "FULL, ANALYZE" } else { "ANALYZE" };
    sqlx::raw_sql(AssertSqlSafe(format!("VACUUM ({how}) \"{s}\".events")))
        .execute(store.pool())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_events_of_closed_streams_move_to_the_archive() {
    let started = Instant::now();
    let store = common::store_with(10, |o| o).await;
    // The read model, built live while the seed appends.
    let totals = Arc::new(Mutex::new(Totals::new()));
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    runner
        .start(
            TicketTotals {
                totals: totals.clone(),
            },
            InMemoryProjectionBackend::new(),
        )
        .await
        .unwrap();
    let logged = seed(&store).await;
    let total = CLOSED_STREAMS * EVENTS_PER_STREAM + OPEN_STREAMS * 50;
    assert_eq!(logged.len() as u64, total);
    let head = logged.last().map_or(0, |(position, _)| *position);
    println!(
        "seeded {total} events in {} streams: {:.1?}",
        CLOSED_STREAMS + OPEN_STREAMS,
        started.elapsed()
    );
    let step = Instant::now();
    runner
        .wait_until("pgarch.totals", head, WAIT)
        .await
        .unwrap();
    let before = totals.lock().unwrap().clone();
    assert_eq!(before.len() as u64, CLOSED_STREAMS + OPEN_STREAMS);
    println!("projection caught up {:.1?} after the seed", step.elapsed());

    vacuum(&store, false).await;
    let size_before = hot_size(&store).await;

    // A subscriber from 0, reading while the job moves what it reads: it
    // reads a thousand events, then waits for the first move before going on.
    let mut sub = store.subscribe(0, EventFilter::all());
    let watcher = store.clone();
    let reader = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(total as usize);
        let mut waited = false;
        loop {
            if !waited && seen.len() >= 1_000 {
                waited = true;
                let deadline = Instant::now() + WAIT;
                while count(&watcher, "events_archive").await == 0 {
                    assert!(Instant::now() < deadline, "the archive job moved nothing");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            let item = tokio::time::timeout(WAIT, sub.next())
                .await
                .expect("the subscriber stalled")
                .expect("the subscription ended")
                .unwrap();
            match item {
                SubscriptionItem::Event(e) => seen.push((e.global_position, e.event_id)),
                SubscriptionItem::CaughtUp { position } if position >= head => {
                    let archived = count(&watcher, "events_archive").await;
                    println!("the subscriber caught up with {archived} events archived");
                    return seen;
                }
                _ => {}
            }
        }
    });

    let step = Instant::now();
    let repository = Repository::<Ticket>::new(store.clone())
        .unwrap()
        .with_snapshots(store.clone());
    let policy = ArchivePolicy::for_aggregate::<Ticket>(Duration::ZERO)
        .closed_only(repository.clone())
        .with_batch_size(10);
    let mut updates = 0u64;
    let mut phases = Vec::new();
    let report = ArchiveJob::new(store.clone(), policy)
        .run(|at| {
            updates += 1;
            if phases.last().is_none_or(|(phase, _)| *phase != at.phase) {
                phases.push((at.phase, step.elapsed()));
            }
        })
        .await
        .unwrap();
    println!(
        "archive job: {report:?} in {:.1?} ({updates} progress calls; phases began at {phases:?})",
        step.elapsed()
    );
    assert_eq!(report.streams_matched, CLOSED_STREAMS + OPEN_STREAMS);
    assert_eq!(report.streams_open, OPEN_STREAMS);
    assert_eq!(report.streams_archived, CLOSED_STREAMS);
    assert_eq!(
        report.events_moved,
        CLOSED_STREAMS * (EVENTS_PER_STREAM - 1)
    );
    assert!(updates > CLOSED_STREAMS / 10, "{updates} progress calls");

    let step = Instant::now();
    let seen = reader.await.unwrap();
    println!(
        "subscriber from 0 done {:.1?} after the job",
        step.elapsed()
    );
    assert!(
        seen == logged,
        "the subscriber running during the archive delivered {} events; {} are stored \
         (every event once, in order, is expected)",
        seen.len(),
        logged.len()
    );

    let archived = count(&store, "events_archive").await;
    let hot = count(&store, "events").await;
    assert_eq!(archived as u64, CLOSED_STREAMS * (EVENTS_PER_STREAM - 1));
    assert_eq!((archived + hot) as u64, total);
    vacuum(&store, true).await;
    let size_after = hot_size(&store).await;
    println!(
        "hot table with its indexes: {} MiB before, {} MiB after (VACUUM FULL)",
        size_before >> 20,
        size_after >> 20
    );
    assert!(
        size_after * 10 < size_before,
        "the hot table went from {size_before} to {size_after} bytes"
    );

    // Archived streams load, from the archive, and say so.
    let step = Instant::now();
    for stream in (0..CLOSED_STREAMS).step_by(5) {
        let loaded = repository
            .load_stream(&format!("ticket-{stream:05}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded.version, EVENTS_PER_STREAM);
        assert!(loaded.state.closed);
        assert_eq!(loaded.state.notes, EVENTS_PER_STREAM - 2);
        if stream % 10 == 0 {
            // No snapshot: every event but the last comes from the archive.
            assert_eq!(loaded.snapshot_version, None);
            assert_eq!(loaded.archived_events, EVENTS_PER_STREAM - 1);
        } else {
            assert_eq!(loaded.snapshot_version, Some(EVENTS_PER_STREAM));
            assert_eq!(loaded.archived_events, 0);
        }
    }
    let open = repository
        .load_stream("ticket-01005")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((open.version, open.archived_events), (50, 0));
    println!("loads of archived streams: {:.1?}", step.elapsed());

    // The projection rebuilt from 0 reads the archive and the hot log.
    let step = Instant::now();
    runner.rebuild("pgarch.totals", |_| {}).await.unwrap();
    runner
        .wait_until("pgarch.totals", head, WAIT)
        .await
        .unwrap();
    let rebuilt = totals.lock().unwrap().clone();
    assert!(rebuilt == before, "the rebuilt read model differs");
    println!("projection rebuilt from 0: {:.1?}", step.elapsed());
    runner.shutdown().await;

    // Run again: nothing left to move, and nothing lost.
    let again = ArchiveJob::new(
        store.clone(),
        ArchivePolicy::for_aggregate::<Ticket>(Duration::ZERO),
    )
    .run(|_| {})
    .await
    .unwrap();
    assert_eq!(again.events_moved, OPEN_STREAMS * 49);
    let status = store.archive_status().await.unwrap();
    assert_eq!(status.events, archived as u64 + OPEN_STREAMS * 49);
    assert!(!status.ranges.is_empty());
    assert_eq!(
        status.ranges.iter().map(|r| r.events).sum::<u64>(),
        status.events
    );
    println!("total: {:.1?}", started.elapsed());
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_typed_errors_and_lose_nothing() {
    let store = common::store().await;
    store
        .append(
            "ticket-1",
            TYPE,
            ExpectedVersion::NoStream,
            ticket_events(1, 5, true),
        )
        .await
        .unwrap();

    // A policy that matches nothing: the last event is not a day old.
    let policy = ArchivePolicy::new(TYPE, Duration::from_secs(86_400));
    match ArchiveJob::new(store.clone(), policy).run(|_| {}).await {
        Err(ArchiveError::NothingMatches {
            aggregate_type,
            older_than_secs: 86_400,
            closed_only: false,
        }) => assert_eq!(aggregate_type, TYPE),
        other => panic!("expected NothingMatches, got {other:?}"),
    }
    let unknown = ArchivePolicy::new("pgarch.Nothing", Duration::ZERO);
    assert!(matches!(
        ArchiveJob::new(store.clone(), unknown).run(|_| {}).await,
        Err(ArchiveError::NothingMatches { .. })
    ));
    assert_eq!(count(&store, "events_archive").await, 0);

    // A closed check of another type than the policy's.
    let repository = Repository::<Ticket>::new(store.clone()).unwrap();
    let mismatched =
        ArchivePolicy::new("pgarch.Other", Duration::ZERO).closed_only(repository.clone());
    assert!(matches!(
        ArchiveJob::new(store.clone(), mismatched).run(|_| {}).await,
        Err(ArchiveError::InvalidPolicy(_))
    ));

    // Archive, then the lifecycle's refusals on the archived stream.
    let moved = store
        .archive_streams(&["ticket-1".to_owned()])
        .await
        .unwrap();
    assert_eq!(moved[0].moved, 4);
    assert!(matches!(
        store.truncate_before("ticket-1", 6).await,
        Err(StoreError::TruncateBeyondHead { head: 5, .. })
    ));
    assert!(matches!(
        store
            .delete_stream("ticket-missing", DeleteMode::Hard)
            .await,
        Err(StoreError::StreamNotFound { .. })
    ));
    assert!(matches!(
        store
            .append(
                "ticket-1",
                TYPE,
                ExpectedVersion::NoStream,
                ticket_events(1, 1, false)
            )
            .await,
        Err(StoreError::Conflict {
            actual: Some(5),
            ..
        })
    ));
    assert_eq!(count(&store, "events_archive").await, 4);
    assert_eq!(count(&store, "events").await, 1);
    let loaded = repository.load_stream("ticket-1").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.archived_events), (5, 4));

    // A hard delete reaches the archive.
    let deletion = store
        .delete_stream("ticket-1", DeleteMode::Hard)
        .await
        .unwrap();
    assert_eq!(deletion.removed, 5);
    assert_eq!(count(&store, "events_archive").await, 0);
    common::drop_schema(&store).await;
}
