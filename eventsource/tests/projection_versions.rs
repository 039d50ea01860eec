//! Versions of a projection on the in-memory store: a new version catches
//! up in the background while the old one serves, takes over once live, and
//! the old one retires; a program whose events differ from what the store
//! recorded for a version is refused.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::prelude::*;
use eventsource::projection::{ProjectionBackend, ProjectionState, RunnerError, RunnerOptions};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "ver.Sold")]
struct Sold {
    amount: u64,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "ver.Refunded")]
struct Refunded {
    amount: u64,
}

/// Version 1: the total sold.
#[derive(Clone, Default)]
struct TotalsV1 {
    total: Arc<AtomicU64>,
    retired: Arc<AtomicU32>,
}

#[projection(name = "ver.totals")]
impl TotalsV1 {
    async fn on_sold(&mut self, e: &Sold) {
        self.total.fetch_add(e.amount, Ordering::SeqCst);
    }

    #[reset]
    async fn clear(&mut self) {
        self.total.store(0, Ordering::SeqCst);
    }

    #[retire]
    async fn drop_old(&mut self) {
        self.retired.fetch_add(1, Ordering::SeqCst);
    }
}

/// Version 2: sold minus refunded, each event slow to apply, so the switch
/// can be watched.
#[derive(Clone, Default)]
struct TotalsV2 {
    net: Arc<Mutex<i64>>,
    seen: Arc<AtomicU64>,
}

#[projection(name = "ver.totals", version = 2)]
impl TotalsV2 {
    async fn on_sold(&mut self, e: &Sold) {
        tokio::time::sleep(Duration::from_millis(4)).await;
        *self.net.lock().unwrap() += e.amount as i64;
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    async fn on_refunded(&mut self, e: &Refunded) {
        *self.net.lock().unwrap() -= e.amount as i64;
        self.seen.fetch_add(1, Ordering::SeqCst);
    }

    #[reset]
    async fn clear(&mut self) {
        *self.net.lock().unwrap() = 0;
    }
}

async fn append(store: &InMemoryStore, event: NewEvent) -> u64 {
    store
        .append("till-1", "ver.Till", ExpectedVersion::Any, vec![event])
        .await
        .unwrap()
        .last_position
}

fn options() -> RunnerOptions {
    RunnerOptions::default()
        .with_batch_size(10)
        .with_lease_ttl(Duration::from_millis(300))
        .with_standby_poll(Duration::from_millis(20))
}

async fn state_of(runner: &ProjectionRunner, version: u32) -> (ProjectionState, Option<u32>) {
    let statuses = runner.statuses("ver.totals").await.unwrap();
    let status = statuses.iter().find(|s| s.version == version).unwrap();
    (status.state.clone(), status.active_version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_catches_up_in_the_background_then_takes_over() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let mut last = 0;
    for i in 0..60 {
        last = append(
            &store,
            NewEvent::from_event(&Sold { amount: 10 }, Metadata::new()).unwrap(),
        )
        .await;
        if i % 10 == 0 {
            append(
                &store,
                NewEvent::from_event(&Refunded { amount: 1 }, Metadata::new()).unwrap(),
            )
            .await;
        }
    }
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    let v1 = TotalsV1::default();
    runner.start(v1.clone(), backend.clone()).await.unwrap();
    runner.wait_until("ver.totals", last, WAIT).await.unwrap();
    assert_eq!(v1.total.load(Ordering::SeqCst), 600);
    assert_eq!(
        state_of(&runner, 1).await.1,
        Some(1),
        "the first version serves at once"
    );

    // Version 2 starts beside it and catches up while version 1 serves.
    let v2 = TotalsV2::default();
    runner.start(v2.clone(), backend.clone()).await.unwrap();
    let statuses = runner.statuses("ver.totals").await.unwrap();
    assert_eq!(statuses.len(), 2);
    let (v2_state, active) = state_of(&runner, 2).await;
    assert_eq!(
        active,
        Some(1),
        "version 1 serves while version 2 catches up"
    );
    assert_ne!(v2_state, ProjectionState::Retired);
    assert_eq!(state_of(&runner, 1).await.0, ProjectionState::Live);

    // Once version 2 is live it takes over, and version 1 retires, once.
    let deadline = tokio::time::Instant::now() + WAIT;
    while state_of(&runner, 1).await.0 != ProjectionState::Retired {
        assert!(
            tokio::time::Instant::now() < deadline,
            "version 1 never retired"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(v1.retired.load(Ordering::SeqCst), 1);
    assert_eq!(*v2.net.lock().unwrap(), 600 - 6);
    assert_eq!(state_of(&runner, 2).await.1, Some(2));
    assert_eq!(
        ProjectionBackend::<()>::active_version(&backend, "ver.totals")
            .await
            .unwrap(),
        Some(2)
    );
    // Each version kept its own checkpoint.
    assert!(
        ProjectionBackend::<()>::checkpoint(&backend, "ver.totals@v2")
            .await
            .unwrap()
            .is_some()
    );

    // Only version 2 follows the log now.
    let more = append(
        &store,
        NewEvent::from_event(&Sold { amount: 5 }, Metadata::new()).unwrap(),
    )
    .await;
    runner.wait_until("ver.totals", more, WAIT).await.unwrap();
    assert_eq!(*v2.net.lock().unwrap(), 600 - 6 + 5);
    assert_eq!(v1.total.load(Ordering::SeqCst), 600);
    runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_version_started_after_the_switch_retires_at_once() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let last = append(
        &store,
        NewEvent::from_event(&Sold { amount: 1 }, Metadata::new()).unwrap(),
    )
    .await;
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    runner
        .start(TotalsV2::default(), backend.clone())
        .await
        .unwrap();
    runner.wait_until("ver.totals", last, WAIT).await.unwrap();

    // Another process still on the old code.
    let old = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    let v1 = TotalsV1::default();
    old.start(v1.clone(), backend.clone()).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let status = old.status("ver.totals").await.unwrap();
        if status.state == ProjectionState::Retired {
            assert_eq!(status.active_version, Some(2));
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old version kept running"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(v1.retired.load(Ordering::SeqCst), 1);
    assert_eq!(
        v1.total.load(Ordering::SeqCst),
        0,
        "the old version projected nothing"
    );
    old.shutdown().await;
    runner.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_handling_other_events_under_the_same_version_is_refused() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    // Another program ran version 1 of `ver.totals` handling other events.
    ProjectionBackend::<()>::register(&backend, "ver.totals", 1, &["ver.Other".to_owned()])
        .await
        .unwrap();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(options());
    match runner.start(TotalsV1::default(), backend.clone()).await {
        Err(RunnerError::Fingerprint {
            name,
            version,
            recorded,
            ours,
        }) => {
            assert_eq!((name.as_str(), version), ("ver.totals", 1));
            assert_eq!(
                (recorded, ours),
                (vec!["ver.Other".to_owned()], vec!["ver.Sold".to_owned()])
            );
        }
        other => panic!("expected the fingerprint to be refused, got {other:?}"),
    }
    let message = runner
        .start(TotalsV1::default(), backend.clone())
        .await
        .unwrap_err()
        .to_string();
    for needle in ["[ver.Other]", "[ver.Sold]", "version = 2", "start_fresh"] {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
    assert!(runner.names().is_empty(), "nothing runs after a refusal");

    // Rebuilt in place under this program's events, it runs.
    let last = append(
        &store,
        NewEvent::from_event(&Sold { amount: 7 }, Metadata::new()).unwrap(),
    )
    .await;
    let v1 = TotalsV1::default();
    let rebuilt = runner
        .start_fresh(v1.clone(), backend.clone())
        .await
        .unwrap();
    assert_eq!(rebuilt.done, 1);
    runner.wait_until("ver.totals", last, WAIT).await.unwrap();
    assert_eq!(v1.total.load(Ordering::SeqCst), 7);
    runner.shutdown().await;
}
