//! The query bus on the in-memory store: answers once, at a position (with
//! a timeout), and live, with latest-value back-pressure and an end when the
//! subscriber drops the stream or the projection stops.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::prelude::*;
use eventsource::query::{Answer, QueryError};
use futures::StreamExt;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "queries.Counted")]
struct Counted {
    key: String,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "queries.Noted")]
struct Noted {
    key: String,
}

/// How often `key` was counted.
#[derive(Query, Clone)]
#[query(result = u64, name = "queries.Count")]
struct Count {
    key: String,
}

/// Every count (a query taken by value, answered by an async handler that
/// may fail).
#[derive(Query, Clone)]
#[query(result = BTreeMap<String, u64>)]
struct AllCounts {
    fail: bool,
}

/// Answered by a read model with no projection.
#[derive(Query)]
#[query(result = &'static str)]
struct Version;

#[derive(Clone, Default)]
struct Counts {
    rows: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl Counts {
    fn rows(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, u64>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[projection(name = "queries.counts")]
impl Counts {
    fn on_counted(&mut self, e: &Counted) {
        *self.rows().entry(e.key.clone()).or_default() += 1;
    }

    // Handled, but changes no answer: subscriptions stay quiet.
    fn on_noted(&mut self, _e: &Noted) {}
}

#[read_model(projection = Self)]
impl Counts {
    #[query_handler]
    fn count(&self, q: &Count) -> u64 {
        self.rows().get(&q.key).copied().unwrap_or(0)
    }

    #[query_handler]
    async fn all(&self, q: AllCounts) -> Result<BTreeMap<String, u64>, String> {
        if q.fail {
            return Err("asked to fail".into());
        }
        Ok(self.rows().clone())
    }
}

struct Build;

#[read_model]
impl Build {
    #[query_handler]
    fn version(&self, _q: &Version) -> &'static str {
        "1.0"
    }
}

struct World {
    store: InMemoryStore,
    runner: Arc<ProjectionRunner>,
    bus: QueryBus,
}

async fn world() -> World {
    let store = InMemoryStore::new();
    let runner = Arc::new(ProjectionRunner::new(store.clone()).unwrap());
    let counts = Counts::default();
    runner
        .start(counts.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    let bus = QueryBus::new()
        .unwrap()
        .with_runner(runner.clone())
        .with_read_model(counts)
        .with_read_model(Build);
    World { store, runner, bus }
}

async fn count(store: &InMemoryStore, key: &str) -> u64 {
    let event = NewEvent::from_event(&Counted { key: key.into() }, Metadata::new()).unwrap();
    store
        .append(key, "queries.Key", ExpectedVersion::Any, vec![event])
        .await
        .unwrap()
        .last_position
}

async fn note(store: &InMemoryStore, key: &str) -> u64 {
    let event = NewEvent::from_event(&Noted { key: key.into() }, Metadata::new()).unwrap();
    store
        .append(key, "queries.Key", ExpectedVersion::Any, vec![event])
        .await
        .unwrap()
        .last_position
}

/// Waits, boundedly, until `check` holds.
async fn eventually(what: &str, check: impl Fn() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not happen within 5 s");
}

#[tokio::test]
async fn a_query_is_answered_by_its_read_model_and_waits_for_a_position() {
    let World { store, runner, bus } = world().await;
    let position = count(&store, "a").await;
    let seen = bus
        .query(Count { key: "a".into() })
        .at_least(position)
        .within(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(seen, 1);
    assert_eq!(bus.query(Version).await.unwrap(), "1.0");
    let all = bus.query(AllCounts { fail: false }).await.unwrap();
    assert_eq!(all, BTreeMap::from([("a".to_owned(), 1)]));

    let failed = bus.query(AllCounts { fail: true }).await.unwrap_err();
    assert!(
        matches!(&failed, QueryError::Handler { query, source } if query.ends_with("AllCounts") && source.to_string() == "asked to fail"),
        "{failed:?}"
    );

    // A position the log never reaches: a timeout, told apart.
    let late = bus
        .query(Count { key: "a".into() })
        .at_least(position + 100)
        .within(Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(late.is_timeout(), "{late:?}");
    assert!(!late.is_unavailable());

    // A read model with no projection cannot be asked at a position.
    let no_projection = bus.query(Version).at_least(1).await.unwrap_err();
    assert!(
        matches!(no_projection, QueryError::NoProjection { .. }),
        "{no_projection:?}"
    );
    runner.shutdown().await;
}

#[tokio::test]
async fn a_read_model_not_given_to_the_bus_is_reported() {
    let bus = QueryBus::new().unwrap().with_read_model(Build);
    let missing = bus.query(Count { key: "a".into() }).await.unwrap_err();
    assert!(
        matches!(missing, QueryError::NotServed { query: "queries.Count", read_model } if read_model.ends_with("Counts")),
        "{missing:?}"
    );
    let no_runner = QueryBus::new().unwrap().with_read_model(Counts::default());
    let live = no_runner.subscribe(Count { key: "a".into() }).await;
    assert!(
        matches!(live, Err(QueryError::NoProjection { reason, .. }) if reason.contains("runner")),
        "{live:?}"
    );
}

#[tokio::test]
async fn a_subscription_sends_the_answer_then_each_change_in_order() {
    let World { store, runner, bus } = world().await;
    count(&store, "a").await;
    // Let the projection catch up, so the first answer is known.
    let head = count(&store, "b").await;
    runner
        .wait_until("queries.counts", head, Duration::from_secs(5))
        .await
        .unwrap();
    let mut live = bus.subscribe(Count { key: "a".into() }).await.unwrap();
    assert_eq!(live.initial.value, 1);
    assert_eq!(live.initial.position, Some(head));
    assert_eq!(bus.live_subscriptions(), 1);

    for expected in 2..=4 {
        let position = count(&store, "a").await;
        // Events that do not change the answer send nothing.
        count(&store, "b").await;
        note(&store, "a").await;
        let Answer {
            value,
            position: at,
        } = tokio::time::timeout(Duration::from_secs(5), live.updates.next())
            .await
            .expect("an update within 5 s")
            .expect("the stream goes on")
            .unwrap();
        assert_eq!(value, expected);
        assert!(at >= Some(position), "{at:?} < {position}");
    }
    // No update is pending: the unrelated events changed nothing.
    let settled = note(&store, "a").await;
    runner
        .wait_until("queries.counts", settled, Duration::from_secs(5))
        .await
        .unwrap();
    let quiet = tokio::time::timeout(Duration::from_millis(100), live.updates.next()).await;
    assert!(quiet.is_err(), "an update nobody caused: {quiet:?}");

    drop(live);
    assert_eq!(bus.live_subscriptions(), 0);
    runner.shutdown().await;
}

#[tokio::test]
async fn a_slow_subscriber_gets_the_latest_answer_not_a_backlog() {
    let World { store, runner, bus } = world().await;
    let mut live = bus.subscribe(Count { key: "a".into() }).await.unwrap();
    assert_eq!(live.initial.value, 0);
    // 200 changes while nobody reads.
    let mut last = 0;
    for _ in 0..200 {
        last = count(&store, "a").await;
    }
    runner
        .wait_until("queries.counts", last, Duration::from_secs(5))
        .await
        .unwrap();
    let mut seen = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_millis(200), live.updates.next()).await;
        match next {
            Ok(Some(answer)) => seen.push(answer.unwrap().value),
            Ok(None) => panic!("the stream ended"),
            Err(_) => break,
        }
    }
    // Whatever the projection's batches, the reader gets the final answer
    // at once and no queue of the ones in between.
    assert_eq!(seen.last(), Some(&200), "{seen:?}");
    assert!(seen.len() <= 2, "a backlog: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    runner.shutdown().await;
}

#[tokio::test]
async fn a_subscription_ends_when_dropped_or_when_its_projection_stops() {
    let World { store, runner, bus } = world().await;
    let first = bus.subscribe(Count { key: "a".into() }).await.unwrap();
    let mut second = bus.subscribe(Count { key: "a".into() }).await.unwrap();
    // Dropped without ever being read.
    drop(first);
    assert_eq!(bus.live_subscriptions(), 1);

    // A consumer task that reads until the stream ends, dropped by aborting it.
    let reader = tokio::spawn(async move { while second.updates.next().await.is_some() {} });
    let mut third = bus.subscribe(Count { key: "a".into() }).await.unwrap();
    count(&store, "a").await;
    reader.abort();
    let bus_view = bus.clone();
    eventually("the aborted reader's subscription to close", || {
        bus_view.live_subscriptions() == 1
    })
    .await;

    runner.stop("queries.counts").await.unwrap();
    let rest: Vec<_> = tokio::time::timeout(Duration::from_secs(5), async {
        let mut rest = Vec::new();
        while let Some(answer) = third.updates.next().await {
            rest.push(answer.unwrap().value);
        }
        rest
    })
    .await
    .expect("the stream ends when the projection stops");
    assert!(rest.len() <= 1, "{rest:?}");
    drop(third);
    assert_eq!(bus.live_subscriptions(), 0);
}

#[test]
fn the_registry_lists_queries_and_their_handlers() {
    let registry = eventsource::Registry::global();
    registry.validate().unwrap();
    let handler = registry
        .parts()
        .query_handlers
        .iter()
        .find(|h| h.query == "queries.Count")
        .expect("registered");
    assert!(handler.read_model.ends_with("::Counts"), "{handler:?}");
    assert_eq!(handler.method, "count");
    let query = registry
        .parts()
        .queries
        .iter()
        .find(|q| q.name == "queries.Count")
        .expect("registered");
    assert_eq!(query.result, "u64");
    assert!(registry.table().contains("query handlers (4)"));
}

/// A projection that applies nothing until the test opens its gate.
#[derive(Clone)]
struct Gated {
    gate: Arc<tokio::sync::Semaphore>,
    applied: Arc<Mutex<u64>>,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "queries.Gated")]
struct Passed;

#[derive(Query)]
#[query(result = u64)]
struct Applied;

#[projection(name = "queries.gated")]
impl Gated {
    async fn on_passed(&mut self, _e: &Passed) {
        // One permit per event; the test hands them out.
        if let Ok(permit) = self.gate.acquire().await {
            permit.forget();
        }
        *self.applied.lock().unwrap_or_else(PoisonError::into_inner) += 1;
    }
}

#[read_model(projection = "queries.gated")]
impl Gated {
    #[query_handler]
    fn applied(&self, _q: &Applied) -> u64 {
        *self.applied.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[tokio::test]
async fn a_read_at_a_position_waits_for_the_projection_and_a_plain_read_does_not() {
    let store = InMemoryStore::new();
    let runner = Arc::new(ProjectionRunner::new(store.clone()).unwrap());
    let gated = Gated {
        gate: Arc::new(tokio::sync::Semaphore::new(0)),
        applied: Arc::default(),
    };
    runner
        .start(gated.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    let bus = QueryBus::new()
        .unwrap()
        .with_runner(runner.clone())
        .with_read_model(gated.clone());
    let event = NewEvent::from_event(&Passed, Metadata::new()).unwrap();
    let position = store
        .append("g", "queries.G", ExpectedVersion::Any, vec![event])
        .await
        .unwrap()
        .last_position;

    // The plain read answers at once, from the read model as it is.
    assert_eq!(bus.query(Applied).await.unwrap(), 0);
    // The read at the position waits: it times out while the gate is shut...
    let shut = bus
        .query(Applied)
        .at_least(position)
        .within(Duration::from_millis(100))
        .await
        .unwrap_err();
    assert!(shut.is_timeout(), "{shut:?}");
    // ...and answers with the event applied once it opens.
    let waiting = {
        let bus = bus.clone();
        tokio::spawn(async move {
            bus.query(Applied)
                .at_least(position)
                .within(Duration::from_secs(5))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting.is_finished(), "it did not wait");
    gated.gate.add_permits(1);
    assert_eq!(waiting.await.unwrap().unwrap(), 1);
    runner.shutdown().await;
}
