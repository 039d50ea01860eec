//! `PgStoreOptions::with_group_commit`: concurrent appends sharing statements.
//!
//! The deterministic tests hold the store's only runner on a row lock (an
//! uncommitted append of another transaction to the stream `gate`), queue
//! appends behind it, and release it, so the queued appends are known to
//! share the next statement. They run on the current-thread runtime, where
//! a spawned append has queued once the test gets to run again.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use eventsource::store::{AppendResult, EventStore, ExpectedVersion};
use eventsource::{Metadata, NewEvent, RecordedEvent, StoreError};
use eventsource_postgres::PgEventStore;
use futures::TryStreamExt;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::task::JoinHandle;

const AGG: &str = "test.Thing";

fn tagged() -> String {
    format!("eventsource-group-{:08x}", fastrand::u32(..))
}

async fn stream(store: &PgEventStore, id: &str) -> Vec<RecordedEvent> {
    store.read_stream(id, 1).try_collect().await.unwrap()
}

/// The transaction that wrote each stored event, by event id.
async fn writers_of(store: &PgEventStore) -> BTreeMap<uuid::Uuid, i64> {
    let sql = format!(
        "SELECT event_id, transaction_id::text::bigint FROM \"{}\".events",
        store.schema()
    );
    sqlx::query_as::<_, (uuid::Uuid, i64)>(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap()
        .into_iter()
        .collect()
}

type Pending = JoinHandle<Result<AppendResult, StoreError>>;

fn spawn_append(
    store: &PgEventStore,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Pending {
    let store = store.clone();
    let stream_id = stream_id.to_owned();
    tokio::spawn(async move { store.append(&stream_id, AGG, expected, events).await })
}

/// Holds the store's runner: another transaction appends to `gate` without
/// committing, then an append of the store to `gate` waits on its row.
struct Gate {
    tx: Transaction<'static, Postgres>,
    held: Pending,
}

impl Gate {
    async fn close(store: &PgEventStore, admin: &PgPool, application: &str) -> Self {
        let mut tx = admin.begin().await.unwrap();
        store
            .append_in(&mut tx, "gate", AGG, ExpectedVersion::Any, common::batch(1))
            .await
            .unwrap();
        let held = spawn_append(store, "gate", ExpectedVersion::Any, common::batch(1));
        let waiting = "SELECT count(*) FROM pg_stat_activity \
                       WHERE application_name = $1 AND wait_event_type = 'Lock'";
        for _ in 0..500 {
            let n: i64 = sqlx::query_scalar(waiting)
                .bind(application)
                .fetch_one(admin)
                .await
                .unwrap();
            if n == 1 {
                return Self { tx, held };
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the store's append to `gate` never waited on the uncommitted row");
    }

    /// Lets the runner go: the held append then takes version 1.
    async fn open(self) {
        self.tx.rollback().await.unwrap();
        let done = self.held.await.unwrap().unwrap();
        assert_eq!(done.last_version, 1);
    }
}

/// A store with one runner and no kept connections, on its own pool.
async fn one_runner() -> (PgEventStore, PgPool, String) {
    let application = tagged();
    let pool = common::pool(4, &application).await;
    let store = common::store_on(pool, |o| o.with_group_commit(1)).await;
    let admin = common::pool(2, "eventsource-group-admin").await;
    (store, admin, application)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_grouping_commits_passes_the_conformance_suite() {
    let pool = common::pool(6, &tagged()).await;
    let report =
        common::conformance_on(&pool, |o| o.with_group_commit(2).with_writer_connections(2)).await;
    pool.close().await;
    report.assert_passed();
}

#[tokio::test]
async fn queued_appends_share_one_transaction_and_keep_their_own_results() {
    let (store, admin, application) = one_runner().await;
    store
        .append("taken", AGG, ExpectedVersion::NoStream, common::batch(1))
        .await
        .unwrap();
    let gate = Gate::close(&store, &admin, &application).await;
    let a = common::batch(1);
    let b = common::batch(3);
    let a_ids: Vec<_> = a.iter().map(|e| e.event_id).collect();
    let b_ids: Vec<_> = b.iter().map(|e| e.event_id).collect();
    let queued = [
        spawn_append(&store, "a", ExpectedVersion::NoStream, a),
        spawn_append(&store, "b", ExpectedVersion::Any, b),
        spawn_append(&store, "stale", ExpectedVersion::Exact(5), common::batch(1)),
        spawn_append(&store, "taken", ExpectedVersion::NoStream, common::batch(2)),
        spawn_append(&store, "c", ExpectedVersion::Any, common::batch(1)),
    ];
    tokio::task::yield_now().await;
    gate.open().await;
    let [a, b, stale, taken, _] = queued;
    let a = a.await.unwrap().unwrap();
    let b = b.await.unwrap().unwrap();
    assert_eq!((a.first_version, a.last_version), (1, 1));
    assert_eq!((b.first_version, b.last_version), (1, 3));
    assert!(!a.replayed && !b.replayed);
    // Refused appends were left out, and answered alone with their errors.
    match stale.await.unwrap() {
        Err(StoreError::Conflict { actual: None, .. }) => {}
        other => panic!("expected a conflict on a missing stream, got {other:?}"),
    }
    match taken.await.unwrap() {
        Err(StoreError::Conflict {
            actual: Some(1), ..
        }) => {}
        other => panic!("expected a conflict at version 1, got {other:?}"),
    }
    let writers = writers_of(&store).await;
    let a_tx = writers[&a_ids[0]];
    assert!(
        b_ids.iter().all(|id| writers[id] == a_tx),
        "the queued appends did not share a transaction"
    );
    // The results give the stored positions.
    let a_events = stream(&store, "a").await;
    let b_events = stream(&store, "b").await;
    assert_eq!(a_events[0].global_position, a.first_position);
    assert_eq!(b_events[0].global_position, b.first_position);
    assert_eq!(b_events[2].global_position, b.last_position);
    assert_eq!(
        b_events
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(stream(&store, "stale").await.is_empty());
    assert_eq!(stream(&store, "taken").await.len(), 1);
    assert_eq!(stream(&store, "c").await.len(), 1);
    common::drop_schema(&store).await;
    admin.close().await;
}

#[tokio::test]
async fn an_aggregate_type_clash_in_a_group_is_refused_alone() {
    let (store, admin, application) = one_runner().await;
    store
        .append(
            "owned",
            "other.Type",
            ExpectedVersion::NoStream,
            common::batch(1),
        )
        .await
        .unwrap();
    let gate = Gate::close(&store, &admin, &application).await;
    let clash = spawn_append(&store, "owned", ExpectedVersion::Any, common::batch(1));
    let fine = spawn_append(&store, "fine", ExpectedVersion::NoStream, common::batch(1));
    tokio::task::yield_now().await;
    gate.open().await;
    match clash.await.unwrap() {
        Err(StoreError::Invalid(why)) => assert!(why.to_string().contains("other.Type"), "{why}"),
        other => panic!("expected an aggregate type error, got {other:?}"),
    }
    assert_eq!(fine.await.unwrap().unwrap().last_version, 1);
    assert_eq!(stream(&store, "owned").await.len(), 1);
    common::drop_schema(&store).await;
    admin.close().await;
}

#[tokio::test]
async fn a_failing_group_sends_every_append_alone_and_loses_nothing() {
    let (store, admin, application) = one_runner().await;
    let original = common::batch(2);
    let first = store
        .append("r", AGG, ExpectedVersion::NoStream, original.clone())
        .await
        .unwrap();
    let gate = Gate::close(&store, &admin, &application).await;
    // The retry's ids are stored, and one payload is not JSON: the shared
    // statement fails as a whole, and each append runs alone.
    let retry = spawn_append(&store, "r", ExpectedVersion::Any, original);
    let x = spawn_append(&store, "x", ExpectedVersion::NoStream, common::batch(1));
    let y = spawn_append(&store, "y", ExpectedVersion::NoStream, common::batch(1));
    let bad = NewEvent::new("test.Bad", 1, "not json", Metadata::new());
    let bad = spawn_append(&store, "bad", ExpectedVersion::Any, vec![bad]);
    tokio::task::yield_now().await;
    gate.open().await;
    let again = retry.await.unwrap().unwrap();
    assert!(again.replayed);
    assert_eq!(
        (again.first_position, again.last_position),
        (first.first_position, first.last_position)
    );
    assert_eq!(x.await.unwrap().unwrap().last_version, 1);
    assert_eq!(y.await.unwrap().unwrap().last_version, 1);
    match bad.await.unwrap() {
        Err(StoreError::Invalid(why)) => assert!(why.to_string().contains("JSON"), "{why}"),
        other => panic!("expected a payload error, got {other:?}"),
    }
    assert!(stream(&store, "bad").await.is_empty());
    assert_eq!(stream(&store, "r").await.len(), 2);
    assert_eq!(stream(&store, "x").await.len(), 1);
    assert_eq!(stream(&store, "y").await.len(), 1);
    common::drop_schema(&store).await;
    admin.close().await;
}

#[tokio::test]
async fn an_append_dropped_while_queued_is_not_written() {
    let (store, admin, application) = one_runner().await;
    let gate = Gate::close(&store, &admin, &application).await;
    let dropped = common::batch(1);
    let dropped_id = dropped[0].event_id;
    let cancelled = spawn_append(&store, "cancelled", ExpectedVersion::NoStream, dropped);
    let kept = spawn_append(&store, "kept", ExpectedVersion::NoStream, common::batch(1));
    tokio::task::yield_now().await;
    cancelled.abort();
    assert!(cancelled.await.unwrap_err().is_cancelled());
    gate.open().await;
    assert_eq!(kept.await.unwrap().unwrap().last_version, 1);
    assert!(stream(&store, "cancelled").await.is_empty());
    assert!(!writers_of(&store).await.contains_key(&dropped_id));
    common::drop_schema(&store).await;
    admin.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_lose_nothing_and_share_commits() {
    let pool = common::pool(6, &tagged()).await;
    let store = common::store_on(pool, |o| o.with_group_commit(2).with_writer_connections(2)).await;
    const TASKS: usize = 16;
    const APPENDS: u64 = 30;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = format!("w-{task}");
                let mut results = Vec::new();
                for version in 0..APPENDS {
                    let expected = ExpectedVersion::from_current((version > 0).then_some(version));
                    let events = common::batch(1);
                    let event_id = events[0].event_id;
                    let done = store.append(&id, AGG, expected, events).await.unwrap();
                    results.push((event_id, done));
                }
                results
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.extend(task.await.unwrap());
    }
    for task in 0..TASKS {
        let events = stream(&store, &format!("w-{task}")).await;
        assert_eq!(events.len(), APPENDS as usize);
        assert!(events.iter().zip(1..).all(|(e, v)| e.stream_version == v));
    }
    let writers = writers_of(&store).await;
    let positions: BTreeMap<uuid::Uuid, u64> = {
        let all: Vec<RecordedEvent> = store
            .read_all(0, eventsource::store::EventFilter::all())
            .try_collect()
            .await
            .unwrap();
        all.iter()
            .map(|e| (e.event_id, e.global_position))
            .collect()
    };
    for (event_id, done) in &results {
        assert_eq!(positions[event_id], done.first_position);
        assert_eq!(done.first_position, done.last_position);
    }
    let transactions: HashSet<i64> = writers.values().copied().collect();
    assert!(
        transactions.len() < results.len(),
        "{} appends from {TASKS} writers never shared a transaction",
        results.len()
    );
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_racing_for_one_stream_get_conflicts_and_versions_stay_whole() {
    let pool = common::pool(6, &tagged()).await;
    let store = common::store_on(pool, |o| o.with_group_commit(2)).await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut won = Vec::new();
                let mut lost = 0;
                for _ in 0..20 {
                    let current = store.stream_version("hot").await.unwrap();
                    let events = common::batch(1);
                    let event_id = events[0].event_id;
                    match store
                        .append("hot", AGG, ExpectedVersion::from_current(current), events)
                        .await
                    {
                        Ok(done) => won.push((event_id, done.last_version)),
                        Err(StoreError::Conflict { .. }) => lost += 1,
                        Err(other) => panic!("{other:?}"),
                    }
                }
                (won, lost)
            })
        })
        .collect();
    let mut won = Vec::new();
    for task in tasks {
        won.extend(task.await.unwrap().0);
    }
    let events = stream(&store, "hot").await;
    assert_eq!(events.len(), won.len());
    for (e, v) in events.iter().zip(1..) {
        assert_eq!(e.stream_version, v);
    }
    for (event_id, version) in won {
        let stored = events.iter().find(|e| e.event_id == event_id).unwrap();
        assert_eq!(stored.stream_version, version);
    }
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_after_every_backend_died_land_once() {
    let application = tagged();
    let pool = common::pool(4, &application).await;
    let store = common::store_on(pool, |o| o.with_group_commit(1).with_writer_connections(1)).await;
    for task in 0..8 {
        store
            .append(
                &format!("k-{task}"),
                AGG,
                ExpectedVersion::NoStream,
                common::batch(1),
            )
            .await
            .unwrap();
    }
    let admin = common::pool(1, "eventsource-group-admin").await;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&application)
    .execute(&admin)
    .await
    .unwrap();
    let gone = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1";
    for _ in 0..100 {
        let n: i64 = sqlx::query_scalar(gone)
            .bind(&application)
            .fetch_one(&admin)
            .await
            .unwrap();
        if n == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            spawn_append(
                &store,
                &format!("k-{task}"),
                ExpectedVersion::Exact(1),
                common::batch(1),
            )
        })
        .collect();
    for task in tasks {
        let done = task.await.unwrap().unwrap();
        assert_eq!(done.last_version, 2);
    }
    for task in 0..8 {
        assert_eq!(stream(&store, &format!("k-{task}")).await.len(), 2);
    }
    common::drop_schema(&store).await;
    admin.close().await;
}

#[tokio::test]
async fn with_two_runners_a_statement_held_on_a_lock_holds_up_no_other_append() {
    let application = tagged();
    let pool = common::pool(6, &application).await;
    let store = common::store_on(pool, |o| o.with_group_commit(2)).await;
    let admin = common::pool(2, "eventsource-group-admin").await;
    // The first runner waits on the uncommitted row of `gate`.
    let gate = Gate::close(&store, &admin, &application).await;
    store
        .append("taken", AGG, ExpectedVersion::NoStream, common::batch(1))
        .await
        .unwrap();
    let a = common::batch(1);
    let a_id = a[0].event_id;
    let b = common::batch(2);
    let b_ids: Vec<_> = b.iter().map(|e| e.event_id).collect();
    let queued = [
        spawn_append(&store, "a", ExpectedVersion::NoStream, a),
        spawn_append(&store, "b", ExpectedVersion::Any, b),
        spawn_append(&store, "taken", ExpectedVersion::NoStream, common::batch(1)),
    ];
    // The second runner takes them while the first still waits.
    let done = tokio::time::timeout(Duration::from_secs(30), async {
        let mut done = Vec::new();
        for append in queued {
            done.push(append.await.unwrap());
        }
        done
    })
    .await
    .expect("the appends waited behind the held statement");
    assert!(!gate.held.is_finished(), "the gate opened early");
    let [a, b, taken] = <[_; 3]>::try_from(done).unwrap();
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        (a.first_version, b.first_version, b.last_version),
        (1, 1, 2)
    );
    match taken {
        Err(StoreError::Conflict {
            actual: Some(1), ..
        }) => {}
        other => panic!("expected a conflict at version 1, got {other:?}"),
    }
    let writers = writers_of(&store).await;
    assert_eq!(
        writers[&a_id], writers[&b_ids[0]],
        "a and b shared a statement"
    );
    assert_eq!(
        stream(&store, "b").await[1].global_position,
        b.last_position
    );
    gate.open().await;
    assert_eq!(stream(&store, "gate").await.len(), 1);
    common::drop_schema(&store).await;
    admin.close().await;
}

/// What one writer of the many-runner test saw.
#[derive(Default)]
struct Seen {
    /// Each successful append: its ids and result.
    written: Vec<(Vec<uuid::Uuid>, AppendResult)>,
    /// Each refused append: its ids, the version it expected and the one
    /// the conflict reported.
    conflicts: Vec<(Vec<uuid::Uuid>, Option<u64>, Option<u64>)>,
}

/// Events of `rx` until a `CaughtUp` at `last` or beyond.
async fn received(
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<eventsource::store::SubscriptionItem>,
    last: u64,
) -> Vec<uuid::Uuid> {
    use eventsource::store::SubscriptionItem;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(SubscriptionItem::Event(e))) => got.push(e.event_id),
            Ok(Some(SubscriptionItem::CaughtUp { position })) if position >= last => return got,
            Ok(Some(SubscriptionItem::CaughtUp { .. })) => {}
            Ok(Some(other)) => panic!("unexpected item: {other:?}"),
            Ok(None) => panic!("the subscription ended after {} events", got.len()),
            Err(_) => panic!("not caught up to {last} after 60 s ({} events)", got.len()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_runners_keep_every_result_every_conflict_and_the_order() {
    const TASKS: usize = 24;
    const APPENDS: usize = 25;
    const HOT: usize = 3;
    let pool = common::pool(10, &tagged()).await;
    let store = common::store_on(pool, |o| {
        o.with_group_commit(3)
            .with_writer_connections(3)
            .with_poll_interval(Duration::from_millis(200))
    })
    .await;
    let remote = common::same_schema(&store, "eventsource-group-remote", |o| o).await;
    let mut local = common::tail(&store, eventsource::store::EventFilter::all());
    let mut far = common::tail(&remote, eventsource::store::EventFilter::all());
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let own = format!("own-{task}");
                let mut version = 0;
                let mut seen = Seen::default();
                for n in 0..APPENDS {
                    // Every third append goes to a stream others write too,
                    // expecting the version it just read: some lose the race.
                    let (id, expected) = if n % 3 == 2 {
                        let hot = format!("hot-{}", task % HOT);
                        let current = store.stream_version(&hot).await.unwrap();
                        (hot, current)
                    } else {
                        (own.clone(), (version > 0).then_some(version))
                    };
                    let events = common::batch(1 + n % 2);
                    let ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
                    let at = ExpectedVersion::from_current(expected);
                    match store.append(&id, AGG, at, events).await {
                        Ok(done) => {
                            if id == own {
                                version = done.last_version;
                            }
                            seen.written.push((ids, done));
                        }
                        Err(StoreError::Conflict {
                            actual,
                            expected: ExpectedVersion::Exact(_) | ExpectedVersion::NoStream,
                            ..
                        }) if id != own => seen.conflicts.push((ids, expected, actual)),
                        Err(other) => panic!("{id}: {other:?}"),
                    }
                }
                seen
            })
        })
        .collect();
    let mut seen = Seen::default();
    for task in tasks {
        let one = task.await.unwrap();
        seen.written.extend(one.written);
        seen.conflicts.extend(one.conflicts);
    }
    let sql = format!(
        "SELECT event_id, global_position, stream_id, stream_version, \
             transaction_id::text::bigint FROM \"{}\".events ORDER BY global_position",
        store.schema()
    );
    let rows: Vec<(uuid::Uuid, i64, String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(store.pool())
        .await
        .unwrap();
    let by_id: BTreeMap<uuid::Uuid, (u64, &str, u64)> = rows
        .iter()
        .map(|(id, p, s, v, _)| (*id, (*p as u64, s.as_str(), *v as u64)))
        .collect();
    // Every result names the rows stored for it.
    for (ids, done) in &seen.written {
        let first = by_id[&ids[0]];
        let last = by_id[ids.last().unwrap()];
        assert_eq!((first.0, last.0), (done.first_position, done.last_position));
        assert_eq!((first.2, last.2), (done.first_version, done.last_version));
        assert!(!done.replayed);
    }
    // Every conflict wrote nothing, and says the stream was elsewhere.
    for (ids, expected, actual) in &seen.conflicts {
        assert!(ids.iter().all(|id| !by_id.contains_key(id)));
        assert_ne!(expected, actual, "a conflict at the expected version");
        assert!(actual.is_some());
    }
    let written: usize = seen.written.iter().map(|(ids, _)| ids.len()).sum();
    assert_eq!(rows.len(), written, "rows other than the results stored");
    // Versions are whole in every stream.
    let mut versions: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (_, stream, version) in by_id.values() {
        versions.entry(stream).or_default().push(*version);
    }
    for (stream, mut all) in versions {
        all.sort_unstable();
        assert!(
            all.iter().copied().eq(1..=all.len() as u64),
            "{stream}: {all:?}"
        );
    }
    let transactions: HashSet<i64> = rows.iter().map(|r| r.4).collect();
    assert!(
        transactions.len() < seen.written.len(),
        "{} appends never shared a transaction",
        seen.written.len()
    );
    // Both subscribers see the table's order, once each.
    let log: Vec<uuid::Uuid> = rows.iter().map(|r| r.0).collect();
    let last = rows.last().map_or(0, |r| r.1 as u64);
    assert_eq!(received(&mut local, last).await, log, "local subscriber");
    assert_eq!(
        received(&mut far, last).await,
        log,
        "other process's subscriber"
    );
    println!(
        "{} appends written in {} transactions, {} conflicts",
        seen.written.len(),
        transactions.len(),
        seen.conflicts.len()
    );
    drop((local, far));
    common::drop_schema(&store).await;
}
