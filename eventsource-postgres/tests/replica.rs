//! Reads from a hot standby: the conformance suite with every read on the
//! standby, the gap-free order on the standby under concurrent writers on
//! the primary (with replay paused and resumed under them), a transaction
//! id the standby has not seen yet, replication lag, and where each kind
//! of read goes.
//!
//! The servers come from `scripts/with-replica-postgres` (see
//! `replica_servers`). Tests that pause the standby's replay would stall the
//! others' commits (the conformance suite's wait for the standby), so every
//! test here holds one lock while it runs.

mod replica_servers;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use eventsource::store::{EventFilter, EventStore, ExpectedVersion, SubscriptionItem};
use eventsource::testing::conformance::{self, Subject};
use eventsource::{Metadata, NewEvent, RecordedEvent, StoreError};
use eventsource_postgres::{PgEventStore, ReplicaReads};
use futures::StreamExt;
use replica_servers::{Commits, pause_replay};
use tokio::sync::{Mutex, mpsc};

/// One test at a time (see the module docs).
static SERIAL: Mutex<()> = Mutex::const_new(());

/// The lock, with the standby replaying (an earlier test that failed while
/// it was paused must not stall this one).
async fn one_at_a_time() -> tokio::sync::MutexGuard<'static, ()> {
    let guard = SERIAL.lock().await;
    let standby = replica_servers::standby_pool(1).await;
    pause_replay(&standby, false).await;
    standby.close().await;
    guard
}

const AGG: &str = "test.Thing";

fn events(tag: &str, n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| {
            NewEvent::new(
                "test.Happened",
                1,
                format!(r#"{{"tag":"{tag}","i":{i}}}"#),
                Metadata::new(),
            )
        })
        .collect()
}

/// Forwards a subscription's items (from the start of the log).
fn tail(store: &PgEventStore) -> mpsc::UnboundedReceiver<SubscriptionItem> {
    let (tx, rx) = mpsc::unbounded_channel();
    let mut sub = store.subscribe(0, EventFilter::all());
    tokio::spawn(async move {
        while let Some(item) = sub.next().await {
            // A failure ends the channel, which the receiving test reports;
            // after a test it is its schema dropped under the subscription.
            let Ok(item) =
                item.inspect_err(|e| eprintln!("the subscription on the standby failed: {e}"))
            else {
                return;
            };
            if tx.send(item).is_err() {
                return;
            }
        }
    });
    rx
}

/// What a subscription delivered, item by item.
#[derive(Default)]
struct Trace {
    events: Vec<RecordedEvent>,
    /// (the `CaughtUp` position, how many events had arrived before it).
    caught_up: Vec<(u64, usize)>,
}

/// Items until a `CaughtUp` at or past `last` (bounded: two minutes).
async fn receive_until(
    rx: &mut mpsc::UnboundedReceiver<SubscriptionItem>,
    trace: &mut Trace,
    last: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(SubscriptionItem::Event(e))) => trace.events.push(e),
            Ok(Some(SubscriptionItem::CaughtUp { position })) => {
                trace.caught_up.push((position, trace.events.len()));
                if position >= last {
                    return;
                }
            }
            Ok(Some(other)) => panic!("unexpected item: {other:?}"),
            Ok(None) => panic!("the subscription ended after {} events", trace.events.len()),
            Err(_) => panic!(
                "the standby's subscription did not catch up to {last} in two minutes ({} events)",
                trace.events.len()
            ),
        }
    }
}

/// The primary's whole log, in order.
async fn primary_log(store: &PgEventStore) -> Vec<RecordedEvent> {
    let primary = PgEventStore::with_options(store.pool().clone(), store.options().clone());
    let mut all = Vec::new();
    let mut read = primary.read_all(0, EventFilter::all());
    while let Some(e) = read.next().await {
        all.push(e.expect("read the primary's log"));
    }
    all
}

/// Every event the primary holds delivered once, in order, and every
/// `CaughtUp { position }` preceded by exactly the events at or below it.
fn check_trace(trace: &Trace, log: &[RecordedEvent]) {
    let got: Vec<u64> = trace.events.iter().map(|e| e.global_position).collect();
    let want: Vec<u64> = log.iter().map(|e| e.global_position).collect();
    for pair in got.windows(2) {
        assert!(
            pair[0] < pair[1],
            "positions went {} then {}",
            pair[0],
            pair[1]
        );
    }
    let missing: Vec<&u64> = want.iter().filter(|p| !got.contains(p)).take(5).collect();
    assert_eq!(
        got.len(),
        want.len(),
        "the standby's subscription delivered {} events, the primary holds {} (missing, first 5: {missing:?})",
        got.len(),
        want.len()
    );
    assert_eq!(
        got, want,
        "the standby delivered another order than the primary's"
    );
    let ids: HashSet<_> = trace.events.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), trace.events.len(), "an event arrived twice");
    for &(position, before) in &trace.caught_up {
        let covered = want.iter().filter(|p| **p <= position).count();
        assert_eq!(
            before, covered,
            "CaughtUp {{ position: {position} }} came after {before} events, but {covered} \
             events lie at or below it: one was skipped and appeared later"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_suite_passes_reading_everything_from_the_standby() {
    let _one = one_at_a_time().await;
    // Commits wait until the standby applied them: the suite reads its own
    // writes, as it must, and every one of those reads is on the standby.
    let primary = replica_servers::primary_pool(6, Commits::RemoteApply).await;
    let standby = replica_servers::standby_pool(6).await;
    let stores = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let report = conformance::run(|| {
        let (primary, standby, stores) = (primary.clone(), standby.clone(), stores.clone());
        async move {
            let store =
                replica_servers::store(primary, standby, ReplicaReads::Everything, |o| o).await;
            stores.lock().unwrap().push(store.clone());
            Subject::new(store.clone(), store.clone(), store)
        }
    })
    .await;
    println!("{report}");
    let made: Vec<PgEventStore> = stores.lock().unwrap().drain(..).collect();
    for store in &made {
        replica_servers::drop_schema(store).await;
    }
    report.assert_passed();
}

/// The conformance suite's subscription checks with asynchronous
/// replication: the standby lags behind every append. Each check waits for
/// `CaughtUp` past what it appended, so lag only delays it. Left out:
/// `resumes_from_a_position`, which reads its own appends back with
/// `read_all` first (read-your-writes, which the remote-apply run above
/// covers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_subscription_checks_pass_on_a_lagging_standby() {
    let _one = one_at_a_time().await;
    let primary = replica_servers::primary_pool(6, Commits::Asynchronous).await;
    let standby = replica_servers::standby_pool(6).await;
    let stores = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut failed = Vec::new();
    for check in [
        "subscriptions::caught_up_on_an_empty_store",
        "subscriptions::history_then_live",
        "subscriptions::filter_is_respected",
        "subscriptions::concurrent_appends_arrive_once_in_order",
    ] {
        let report = conformance::run_matching(check, || {
            let (primary, standby, stores) = (primary.clone(), standby.clone(), stores.clone());
            async move {
                let store =
                    replica_servers::store(primary, standby, ReplicaReads::GlobalLog, |o| o).await;
                stores.lock().unwrap().push(store.clone());
                Subject::new(store.clone(), store.clone(), store)
            }
        })
        .await;
        println!("{report}");
        if !report.passed() {
            failed.push(report.to_string());
        }
    }
    let made: Vec<PgEventStore> = stores.lock().unwrap().drain(..).collect();
    for store in &made {
        replica_servers::drop_schema(store).await;
    }
    assert!(failed.is_empty(), "on a lagging standby: {failed:#?}");
}

/// One writer: transactions that sometimes take their id long before they
/// write, sleep inside, and sometimes roll back.
async fn writer(store: PgEventStore, seed: u64, transactions: usize) -> usize {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut committed = 0;
    for t in 0..transactions {
        let mut tx = store.pool().begin().await.expect("begin");
        if rng.bool() {
            sqlx::query("SELECT pg_current_xact_id()")
                .execute(&mut *tx)
                .await
                .expect("take an id");
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..8))).await;
        let stream = format!("w{seed}-{}", rng.usize(0..4));
        let batch = events(&format!("{seed}-{t}"), rng.usize(1..=3));
        let n = batch.len();
        match store
            .append_in(&mut tx, &stream, AGG, ExpectedVersion::Any, batch)
            .await
        {
            Ok(_) => {}
            Err(StoreError::Conflict { .. } | StoreError::Invalid(_)) => {
                tx.rollback().await.expect("roll back");
                continue;
            }
            Err(other) => panic!("append_in failed: {other}"),
        }
        tokio::time::sleep(Duration::from_millis(rng.u64(0..8))).await;
        if rng.u8(0..5) == 0 {
            tx.rollback().await.expect("roll back");
        } else {
            tx.commit().await.expect("commit");
            store.wake_subscribers();
            committed += n;
        }
    }
    committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_delivers_every_commit_once_in_order_under_concurrent_writers() {
    let _one = one_at_a_time().await;
    const WRITERS: u64 = 6;
    const TRANSACTIONS: usize = 60;
    let primary = replica_servers::primary_pool(10, Commits::Asynchronous).await;
    let standby = replica_servers::standby_pool(4).await;
    let store =
        replica_servers::store(primary, standby.clone(), ReplicaReads::GlobalLog, |o| o).await;
    let mut early = tail(&store);
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| tokio::spawn(writer(store.clone(), w + 1, TRANSACTIONS)))
        .collect();
    // Replay stops and starts again under the writers: the standby falls
    // behind by whole bursts of commits, then applies them at once.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        pause_replay(&standby, true).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        pause_replay(&standby, false).await;
    }
    // A second subscriber that starts in the middle of it all.
    let mut late = tail(&store);
    let mut committed = 0;
    for w in writers {
        committed += w.await.expect("a writer task");
    }
    let log = primary_log(&store).await;
    assert_eq!(
        log.len(),
        committed,
        "the primary holds what the writers committed"
    );
    let last = log.last().map_or(0, |e| e.global_position);
    for (name, rx) in [("early", &mut early), ("late", &mut late)] {
        let mut trace = Trace::default();
        receive_until(rx, &mut trace, last).await;
        check_trace(&trace, &log);
        println!(
            "{name} subscriber on the standby: {} events, {} CaughtUp, all in the primary's order",
            trace.events.len(),
            trace.caught_up.len()
        );
    }
    replica_servers::drop_schema(&store).await;
}

/// The case the horizon argument must cover on a standby: a transaction
/// that took its id on the primary but has written nothing the standby saw,
/// while a younger one commits. The standby knows the older id is running
/// (every id below the newest it has seen counts as running until its
/// commit or abort record arrives), so its horizon stays below it and the
/// younger event waits; a horizon from the primary would not be safe there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_id_the_standby_has_not_seen_written_still_holds_its_horizon() {
    let _one = one_at_a_time().await;
    let primary = replica_servers::primary_pool(6, Commits::Asynchronous).await;
    let standby = replica_servers::standby_pool(4).await;
    let store =
        replica_servers::store(primary, standby.clone(), ReplicaReads::GlobalLog, |o| o).await;
    let mut rx = tail(&store);
    let mut trace = Trace::default();
    receive_until(&mut rx, &mut trace, 0).await;

    // The older transaction: an id, and nothing written with it yet.
    let mut older = store.pool().begin().await.expect("begin");
    let xid: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut *older)
        .await
        .expect("take an id");
    // The younger one commits, and the standby applies it.
    let younger = store
        .append(
            "younger",
            AGG,
            ExpectedVersion::NoStream,
            events("younger", 2),
        )
        .await
        .expect("append");
    assert!(younger.first_position > u64::try_from(xid).unwrap() * 65_536);
    replica_servers::wait_for_standby(store.pool(), &standby).await;
    let on_standby = replica_servers::horizon(&standby).await;
    assert!(
        on_standby <= xid * 65_536,
        "the standby's horizon {on_standby} passed transaction {xid}, which may still commit"
    );
    let on_primary = replica_servers::horizon(store.pool()).await;
    assert!(
        on_primary <= xid * 65_536,
        "the primary's horizon passed a running transaction"
    );
    // Nothing may arrive while the older transaction is open: the
    // subscriber must wait for it, not deliver the younger events first.
    let early = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            match rx.recv().await {
                Some(SubscriptionItem::Event(e)) => return e,
                Some(_) => {}
                None => panic!("the subscription ended"),
            }
        }
    })
    .await;
    if let Ok(e) = early {
        panic!("delivered {e:?} while an older transaction could still commit below it");
    }
    // Now the older one writes, below the younger's positions, and commits.
    let stored = store
        .append_in(
            &mut older,
            "older",
            AGG,
            ExpectedVersion::NoStream,
            events("older", 2),
        )
        .await
        .expect("append_in");
    older.commit().await.expect("commit");
    store.wake_subscribers();
    assert!(stored.last_position < younger.first_position);
    let log = primary_log(&store).await;
    receive_until(&mut rx, &mut trace, younger.last_position).await;
    check_trace(&trace, &log);
    let streams: Vec<&str> = trace.events.iter().map(|e| &*e.stream_id).collect();
    assert_eq!(streams, ["older", "older", "younger", "younger"]);
    replica_servers::drop_schema(&store).await;
}

/// Why a reader must take the horizon and the rows below it from one
/// server: a horizon from a server further ahead (here the primary) is not
/// final on a standby behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_horizon_from_a_server_ahead_is_not_final_on_a_standby_behind() {
    let _one = one_at_a_time().await;
    let primary = replica_servers::primary_pool(4, Commits::Asynchronous).await;
    let standby = replica_servers::standby_pool(4).await;
    let store =
        replica_servers::store(primary, standby.clone(), ReplicaReads::GlobalLog, |o| o).await;
    pause_replay(&standby, true).await;
    let stored = store
        .append("s", AGG, ExpectedVersion::NoStream, events("behind", 1))
        .await;
    let ahead = replica_servers::horizon(store.pool()).await;
    let behind = replica_servers::horizon(&standby).await;
    let count_sql = format!(
        "SELECT count(*) FROM \"{}\".events WHERE global_position < $1",
        store.schema()
    );
    let below_ahead: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql))
        .bind(ahead)
        .fetch_one(&standby)
        .await
        .expect("count on the standby");
    pause_replay(&standby, false).await;
    let stored = stored.expect("append");
    let position = i64::try_from(stored.first_position).unwrap();
    assert!(
        position < ahead,
        "the primary's horizon covers the new event"
    );
    assert_eq!(
        below_ahead, 0,
        "the standby, paused, does not have the event below the primary's horizon: a reader \
         that took that horizon and read there would skip it"
    );
    assert!(
        behind <= position,
        "the standby's own horizon {behind} stays at or below the event it has not applied ({position})"
    );
    replica_servers::drop_schema(&store).await;
}

/// Lag: with the standby's replay paused, its subscribers wait (no error,
/// nothing skipped, `CaughtUp` never past what it has), and deliver
/// everything once it resumes. Prints the delivery delay of single appends
/// under normal asynchronous replication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_standby_makes_subscribers_wait_never_skip() {
    let _one = one_at_a_time().await;
    let primary = replica_servers::primary_pool(6, Commits::Asynchronous).await;
    let standby = replica_servers::standby_pool(4).await;
    let store =
        replica_servers::store(primary, standby.clone(), ReplicaReads::GlobalLog, |o| o).await;
    let mut rx = tail(&store);
    let mut trace = Trace::default();
    receive_until(&mut rx, &mut trace, 0).await;

    // The subscription LISTENs on the primary (a standby refuses LISTEN).
    let channel = store
        .options()
        .notify_channel()
        .expect("notifications on")
        .as_str()
        .to_owned();
    let started = Instant::now();
    loop {
        let listening: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND query LIKE $1",
        )
        .bind(format!("%{channel}%"))
        .fetch_one(store.pool())
        .await
        .expect("the primary's sessions");
        if listening > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no session LISTENs on `{channel}` on the primary"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Delivery delay through the standby, one append at a time, by another
    // store value (as another process): the wake-up is the primary's NOTIFY.
    let writer = PgEventStore::with_options(
        replica_servers::primary_pool(2, Commits::Asynchronous).await,
        store.options().clone(),
    );
    let mut delays = Vec::new();
    for i in 0..20 {
        let sent = Instant::now();
        let done = writer
            .append(
                "timed",
                AGG,
                ExpectedVersion::Any,
                events(&format!("t{i}"), 1),
            )
            .await
            .expect("append");
        receive_until(&mut rx, &mut trace, done.last_position).await;
        delays.push(sent.elapsed());
    }
    delays.sort();
    println!(
        "append on the primary (another store value) to delivery on the standby \
         (20 appends): median {:?}, max {:?}",
        delays[delays.len() / 2],
        delays[delays.len() - 1]
    );

    pause_replay(&standby, true).await;
    let before_pause = trace.events.len();
    let mut last = 0;
    for i in 0..10 {
        last = store
            .append(
                "lagged",
                AGG,
                ExpectedVersion::Any,
                events(&format!("l{i}"), 3),
            )
            .await
            .expect("append")
            .last_position;
    }
    let standby_head = {
        let mut read = store.read_all(0, EventFilter::all());
        let mut n = 0;
        while let Some(e) = read.next().await {
            e.expect("read the standby");
            n += 1;
        }
        n
    };
    assert_eq!(
        standby_head, before_pause,
        "a paused standby shows nothing new"
    );
    let held = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match rx.recv().await {
                Some(SubscriptionItem::Event(e)) => return e,
                Some(SubscriptionItem::CaughtUp { position }) => {
                    assert!(
                        position < last,
                        "CaughtUp past events the standby does not have"
                    )
                }
                Some(other) => panic!("unexpected item {other:?}"),
                None => panic!("the subscription ended while the standby lagged"),
            }
        }
    })
    .await;
    assert!(
        held.is_err(),
        "an event arrived from a paused standby: {held:?}"
    );
    let resumed = Instant::now();
    pause_replay(&standby, false).await;
    receive_until(&mut rx, &mut trace, last).await;
    println!(
        "after 2 s of paused replay: 30 events delivered {:?} after the replay resumed",
        resumed.elapsed()
    );
    let log = primary_log(&store).await;
    check_trace(&trace, &log);
    replica_servers::drop_schema(&store).await;
}

/// `GlobalLog` keeps stream loads and snapshots on the primary; `Everything`
/// reads them on the standby.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loads_go_where_replica_reads_says() {
    let _one = one_at_a_time().await;
    let primary = replica_servers::primary_pool(6, Commits::Asynchronous).await;
    let standby = replica_servers::standby_pool(4).await;
    let log_only = replica_servers::store(
        primary.clone(),
        standby.clone(),
        ReplicaReads::GlobalLog,
        |o| o,
    )
    .await;
    let everything = PgEventStore::with_options(primary, log_only.options().clone())
        .with_replica(standby.clone(), ReplicaReads::Everything);
    assert_eq!(
        everything.replica().map(|(_, reads)| reads),
        Some(ReplicaReads::Everything)
    );
    pause_replay(&standby, true).await;
    let appended = log_only
        .append("s", AGG, ExpectedVersion::NoStream, events("s", 2))
        .await;
    let read = |store: PgEventStore| async move {
        let mut n = 0;
        let mut stream = store.read_stream("s", 1);
        while let Some(e) = stream.next().await {
            e.expect("read the stream");
            n += 1;
        }
        n
    };
    let on_primary = read(log_only.clone()).await;
    let on_standby = read(everything.clone()).await;
    let head_log_only = log_only.head_position().await;
    pause_replay(&standby, false).await;
    appended.expect("append");
    assert_eq!(on_primary, 2, "GlobalLog loads streams from the primary");
    assert_eq!(
        on_standby, 0,
        "Everything loads streams from the (paused) standby"
    );
    assert_eq!(
        head_log_only.expect("head"),
        0,
        "GlobalLog reads the head on the (paused) standby"
    );
    replica_servers::drop_schema(&log_only).await;
}
