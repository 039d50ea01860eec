//! Command interceptors on the bus and event interceptors on projection and
//! saga processing: ordered, async, able to refuse, enrich and observe.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource::command::{CommandInfo, CommandInterceptor, CommandOutcome};
use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore};
use eventsource::prelude::*;
use eventsource::projection::{EventDecision, EventInfo, EventInterceptor, ProjectionError};
use eventsource::store::EventStore;
use eventsource::testing::TestStore;
use eventsource::{BoxError, CommandError, Error};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(10);

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "icpt.Placed")]
struct Placed {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "icpt.Paid")]
struct Paid {
    order: String,
}

#[derive(Command, Debug)]
#[command(aggregate = Order)]
struct Place {
    #[aggregate_id]
    order: String,
}

#[derive(Command, Debug)]
#[command(aggregate = Order)]
struct Pay {
    #[aggregate_id]
    order: String,
}

#[derive(Aggregate, Default)]
#[aggregate(name = "icpt.Order")]
struct Order {
    paid: bool,
}

#[aggregate_impl]
impl Order {
    #[command_handler(create)]
    fn place(&self, cmd: &Place) -> Placed {
        Placed {
            order: cmd.order.clone(),
        }
    }

    #[command_handler]
    fn pay(&self, cmd: &Pay) -> Option<Paid> {
        (!self.paid).then(|| Paid {
            order: cmd.order.clone(),
        })
    }

    #[event_sourcing_handler]
    fn on_placed(&mut self, _: &Placed) {}

    #[event_sourcing_handler]
    fn on_paid(&mut self, _: &Paid) {
        self.paid = true;
    }
}

/// Pays every order placed.
#[derive(Default, Serialize, Deserialize, Debug)]
struct Payment {
    done: bool,
}

#[saga(name = "icpt.payment")]
impl Payment {
    #[start]
    async fn on_placed(&mut self, e: &Placed, ctx: &mut SagaContext<'_>) -> Result<(), BoxError> {
        ctx.dispatch(Pay {
            order: e.order.clone(),
        })
        .await?;
        Ok(())
    }

    fn on_paid(&mut self, _: &Paid, ctx: &mut SagaContext<'_>) {
        self.done = true;
        ctx.complete();
    }
}

/// The error the authorization interceptor refuses with.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("`{actor}` may not pay orders")]
struct Forbidden {
    actor: String,
}

/// Lets only `cashier` pay; everything else passes.
struct Authorize;

#[eventsource::async_trait]
impl CommandInterceptor for Authorize {
    fn name(&self) -> &'static str {
        "authorize"
    }

    async fn before(
        &self,
        command: &CommandInfo<'_>,
        metadata: &mut Metadata,
    ) -> Result<(), BoxError> {
        if let Some(pay) = command.downcast::<Pay>() {
            let actor = metadata.actor.clone().unwrap_or_default();
            if actor != "cashier" {
                assert_eq!(pay.order, command.aggregate_id());
                return Err(Box::new(Forbidden { actor }));
            }
        }
        Ok(())
    }
}

/// Gives each request an id, unless it carries one already (a command a
/// saga dispatches carries its cause's).
#[derive(Default)]
struct RequestId(AtomicU64);

#[eventsource::async_trait]
impl CommandInterceptor for RequestId {
    async fn before(&self, _: &CommandInfo<'_>, metadata: &mut Metadata) -> Result<(), BoxError> {
        if !metadata.headers.contains_key("request-id") {
            let next = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            metadata
                .headers
                .insert("request-id".into(), format!("req-{next}"));
        }
        Ok(())
    }
}

/// Records the order interceptors ran in, and what they saw afterwards.
struct Trace {
    tag: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

#[eventsource::async_trait]
impl CommandInterceptor for Trace {
    async fn before(
        &self,
        command: &CommandInfo<'_>,
        metadata: &mut Metadata,
    ) -> Result<(), BoxError> {
        // An async interceptor: it yields before deciding.
        tokio::task::yield_now().await;
        let seen = metadata.headers.get("trace").cloned().unwrap_or_default();
        metadata
            .headers
            .insert("trace".into(), format!("{seen}{}", self.tag));
        self.log
            .lock()
            .unwrap()
            .push(format!("before {} {}", self.tag, command.name()));
        Ok(())
    }

    async fn after(&self, command: &CommandInfo<'_>, _: &Metadata, outcome: &CommandOutcome<'_>) {
        let what = match outcome {
            CommandOutcome::Done { events, .. } => format!("{events:?}"),
            CommandOutcome::Rejected => "rejected".into(),
            CommandOutcome::Failed(error) => format!("failed: {error}"),
            _ => "other".into(),
        };
        self.log
            .lock()
            .unwrap()
            .push(format!("after {} {} {what}", self.tag, command.name()));
    }
}

async fn events(store: &impl EventStore) -> Vec<RecordedEvent> {
    store
        .read_all(1, eventsource::store::EventFilter::all())
        .try_collect()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_authorization_interceptor_refuses_before_any_load() {
    let store = TestStore::new();
    let bus = CommandBus::new(store.clone())
        .unwrap()
        .with_interceptor(Authorize);
    bus.dispatch(Place { order: "o1".into() }).await.unwrap();
    let before = store.counts();

    let err = bus
        .dispatch_with(
            Pay { order: "o1".into() },
            Metadata::new().with_actor("mallory"),
        )
        .await
        .unwrap_err();
    let refused = match &err {
        CommandError::Failed(Error::Refused(refused)) => refused,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(refused.interceptor, "authorize");
    assert_eq!(refused.command, <Pay as Command>::NAME);
    assert_eq!(
        refused.reason_as::<Forbidden>(),
        Some(&Forbidden {
            actor: "mallory".into()
        })
    );
    assert!(
        err.to_string().contains("`mallory` may not pay orders"),
        "{err}"
    );
    // Nothing was read or written for the refused command.
    let after = store.counts();
    assert_eq!(after.stream_reads, before.stream_reads);
    assert_eq!(after.appends, before.appends);
    assert_eq!(events(&store).await.len(), 1);

    let done = bus
        .dispatch_with(
            Pay { order: "o1".into() },
            Metadata::new().with_actor("cashier"),
        )
        .await
        .unwrap();
    assert_eq!(done.version, 2);
    assert!(store.counts().stream_reads > after.stream_reads);
}

#[tokio::test]
async fn interceptors_run_in_order_and_observe_in_reverse() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone())
        .unwrap()
        .with_interceptor(Trace {
            tag: "a",
            log: log.clone(),
        })
        .with_interceptor(Trace {
            tag: "b",
            log: log.clone(),
        });
    bus.dispatch(Place { order: "o1".into() }).await.unwrap();
    bus.dispatch(Place { order: "o1".into() })
        .await
        .unwrap_err();
    let place = <Place as Command>::NAME;
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log[..4],
        [
            format!("before a {place}"),
            format!("before b {place}"),
            format!("after b {place} [\"icpt.Placed\"]"),
            format!("after a {place} [\"icpt.Placed\"]"),
        ]
    );
    assert!(
        log[6].starts_with(&format!("after b {place} failed: ")),
        "{log:?}"
    );
    // The metadata each interceptor changed reaches the events.
    let stored = events(&store).await;
    assert_eq!(
        stored[0].metadata.headers.get("trace").map(String::as_str),
        Some("ab")
    );
}

/// What an event interceptor saw: processor, event name, request id.
type Sighting = (String, String, Option<String>);

/// Records, per processor, the events it was about to handle.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Sighting>>>);

#[eventsource::async_trait]
impl EventInterceptor for Seen {
    async fn before(&self, event: &EventInfo<'_>) -> Result<EventDecision, BoxError> {
        self.0.lock().unwrap().push((
            event.processor.to_owned(),
            event.record.event_name.to_string(),
            event.record.metadata.headers.get("request-id").cloned(),
        ));
        Ok(EventDecision::Handle)
    }
}

#[tokio::test]
async fn an_enrichment_header_reaches_every_event_and_the_sagas_commands() {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone())
        .unwrap()
        .with_interceptor(RequestId::default());
    let seen = Seen::default();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_event_interceptor(seen.clone());
    runner
        .start(
            SagaProcessor::<Payment>::new(bus.clone(), InMemorySagaStore::new()),
            InMemoryProjectionBackend::new(),
        )
        .await
        .unwrap();
    bus.dispatch(Place { order: "o1".into() }).await.unwrap();
    bus.dispatch(Place { order: "o2".into() }).await.unwrap();
    // Both orders get paid by the saga: four events in all.
    let mut stored = Vec::new();
    for _ in 0..200 {
        stored = events(&store).await;
        if stored.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(stored.len(), 4, "the saga paid both orders");
    runner
        .wait_until(<Payment as Saga>::NAME, 4, WAIT)
        .await
        .unwrap();
    for event in &stored {
        let order = event.stream_id.trim_start_matches("icpt.Order-");
        let expected = if order == "o1" { "req-1" } else { "req-2" };
        assert_eq!(
            event.metadata.headers.get("request-id").map(String::as_str),
            Some(expected),
            "{} of {order}",
            event.event_name
        );
    }
    // The event interceptor saw every event the saga handled, headers and all.
    let seen = seen.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 4);
    assert!(
        seen.iter()
            .all(|(processor, _, id)| processor == "icpt.payment" && id.is_some())
    );
    runner.shutdown().await;
}

/// Skips events of order `o2`, fails those of `bad`.
struct Gate;

#[eventsource::async_trait]
impl EventInterceptor for Gate {
    async fn before(&self, event: &EventInfo<'_>) -> Result<EventDecision, BoxError> {
        match &*event.record.stream_id {
            "icpt.Order-o2" => Ok(EventDecision::Skip),
            "icpt.Order-bad" => Err("no events of `bad`".into()),
            _ => Ok(EventDecision::Handle),
        }
    }

    async fn after(&self, _: &EventInfo<'_>, handled: bool, result: Result<(), &ProjectionError>) {
        let _ = (handled, result);
    }
}

#[tokio::test]
async fn an_event_interceptor_skips_or_fails_events() {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).unwrap();
    let sagas = InMemorySagaStore::new();
    let runner = ProjectionRunner::new(store.clone())
        .unwrap()
        .with_options(
            eventsource::projection::RunnerOptions::default()
                .with_max_retries(0)
                .with_retry_backoff(Duration::from_millis(1), Duration::from_millis(1)),
        )
        .with_event_interceptor(Gate);
    runner
        .start(
            SagaProcessor::<Payment>::new(bus.clone(), sagas.clone()),
            InMemoryProjectionBackend::new(),
        )
        .await
        .unwrap();
    let skipped = bus.dispatch(Place { order: "o2".into() }).await.unwrap();
    let failed = bus
        .dispatch(Place {
            order: "bad".into(),
        })
        .await
        .unwrap();
    let last = failed.appended.unwrap().last_position;
    runner
        .wait_until(<Payment as Saga>::NAME, last, WAIT)
        .await
        .unwrap();
    // Neither order was paid: one skipped, the other parked.
    assert_eq!(events(&store).await.len(), 2);
    assert!(skipped.appended.is_some());
    let status = runner.status(<Payment as Saga>::NAME).await.unwrap();
    assert_eq!(status.parked, 1, "{status:?}");
    runner.shutdown().await;
}
