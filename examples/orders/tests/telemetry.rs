//! Trace propagation through the fulfilment saga, in memory and on
//! PostgreSQL: the spans of a checkout (its commands, the saga's processing
//! of each event, the saga's commands and their events) share one trace,
//! exported to an in-memory OpenTelemetry exporter.
//!
//! The PostgreSQL run needs `DATABASE_URL` (as `./scripts/test` provides)
//! and fails without it; it works in a schema of its own, dropped after.

use std::time::Duration;

use eventsource::prelude::*;
use eventsource::telemetry::TRACEPARENT;
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::TryStreamExt;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use orders::app::App;
use orders::inventory::Restock;
use orders::order::{AddLine, Line, Order, PlaceOrder, Status, SubmitOrder};
use orders::saga::WAREHOUSE;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

/// A tracer exporting to memory, installed for this thread: the tests run
/// on a current-thread runtime, so the runner's tasks report to it too.
struct Tracing {
    exporter: InMemorySpanExporter,
    provider: SdkTracerProvider,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Tracing {
    fn install() -> Self {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("orders-test"));
        let guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        Self {
            exporter,
            provider,
            _guard: guard,
        }
    }

    fn spans(&self) -> Vec<SpanData> {
        self.provider.force_flush().expect("the provider flushes");
        self.exporter
            .get_finished_spans()
            .expect("the exporter has its spans")
    }
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|KeyValue { key: k, .. }| k.as_str() == key)
        .map(|kv| &kv.value)
}

fn text(span: &SpanData, key: &str) -> String {
    attribute(span, key)
        .map(Value::to_string)
        .unwrap_or_default()
}

/// Places, fills and submits an order inside a `checkout` span, waits for
/// the saga to approve it, and checks the trace.
async fn checkout_shares_one_trace(app: App, tracing: &Tracing, db: bool) {
    let run = uuid::Uuid::now_v7().simple().to_string();
    let id = format!("order-t-{}", &run[run.len() - 8..]);
    app.bus
        .dispatch(Restock {
            warehouse: WAREHOUSE.into(),
            sku: "tea".into(),
            quantity: 20,
        })
        .await
        .expect("restocked");
    let checkout = tracing::info_span!("checkout");
    async {
        app.bus
            .dispatch(PlaceOrder {
                order_id: id.clone(),
                customer: "ann".into(),
            })
            .await
            .expect("placed");
        app.bus
            .dispatch(AddLine {
                order_id: id.clone(),
                line: Line {
                    sku: "tea".into(),
                    quantity: 2,
                    unit_price: 500,
                },
            })
            .await
            .expect("line added");
        app.bus
            .dispatch(SubmitOrder {
                order_id: id.clone(),
            })
            .await
            .expect("submitted");
    }
    .instrument(checkout.clone())
    .await;
    drop(checkout);

    let orders = app.bus.repository::<Order>();
    let mut approved = false;
    for _ in 0..2000 {
        let order = orders.load(&id).await.expect("loads").expect("exists");
        if order.state.status == Status::Approved {
            approved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(approved, "the saga did not approve {id} within 10 s");
    let head = app.store.head_position().await.expect("head");
    for name in app.runner.names() {
        app.runner
            .wait_until(name, head, Duration::from_secs(10))
            .await
            .expect("every processor catches up");
    }

    let spans = tracing.spans();
    let root = spans
        .iter()
        .find(|s| s.name == "checkout")
        .expect("the checkout span was exported");
    let trace = root.span_context.trace_id();
    let in_trace: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == trace)
        .collect();

    // The commands the saga dispatched ran in the checkout's trace.
    let commands: Vec<String> = in_trace
        .iter()
        .filter(|s| s.name == "eventsource.execute")
        .map(|s| text(s, "command"))
        .collect();
    for command in [
        "SubmitOrder",
        "ReserveInventory",
        "TakePayment",
        "ApproveOrder",
    ] {
        assert!(
            commands.iter().any(|c| c.ends_with(command)),
            "no `{command}` execution in the checkout's trace; it has {commands:?}"
        );
    }

    // The saga processed each step's event as a child of the span that
    // appended it, with the messaging attributes.
    let processing: Vec<&&SpanData> = in_trace
        .iter()
        .filter(|s| text(s, "messaging.consumer.group.name") == "orders.fulfilment")
        .collect();
    assert!(
        processing.len() >= 3,
        "the saga's processing spans are not in the trace: {:?}",
        processing.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for span in &processing {
        assert!(span.name.starts_with("process orders."), "{}", span.name);
        assert_ne!(span.parent_span_id, SpanId::INVALID, "a root, not a child");
        assert_eq!(text(span, "messaging.system"), "eventsource");
        assert_eq!(text(span, "messaging.operation.type"), "process");
        assert!(!text(span, "messaging.message.id").is_empty());
    }
    let summary = in_trace
        .iter()
        .any(|s| text(s, "messaging.consumer.group.name").starts_with("orders.summary"));
    assert!(
        summary,
        "the summary projection's processing left the trace"
    );

    if db {
        let db_spans: Vec<&&SpanData> = in_trace
            .iter()
            .filter(|s| text(s, "db.system.name") == "postgresql")
            .collect();
        assert!(
            db_spans
                .iter()
                .any(|s| text(s, "db.operation.name") == "INSERT" && s.name == "INSERT events"),
            "no PostgreSQL append span in the trace"
        );
    }

    // Every event of the checkout, the saga's included, carries the trace.
    let events: Vec<RecordedEvent> = app
        .store
        .read_all(0, EventFilter::all())
        .try_collect()
        .await
        .expect("the log reads");
    // The submission's correlation id is the saga instance's: every event
    // the saga caused carries it, as the order's own events carry the order.
    let stream = format!("orders.Order-{id}");
    let correlation = events
        .iter()
        .find(|e| *e.stream_id == *stream && &*e.event_name == "orders.OrderSubmitted")
        .and_then(|e| e.metadata.correlation_id);
    let chain: Vec<&RecordedEvent> = events
        .iter()
        .filter(|e| {
            *e.stream_id == *stream
                || (correlation.is_some() && e.metadata.correlation_id == correlation)
        })
        .collect();
    let names: Vec<&str> = chain.iter().map(|e| &*e.event_name).collect();
    for name in [
        "orders.OrderPlaced",
        "orders.LineAdded",
        "orders.OrderSubmitted",
        "orders.InventoryReserved",
        "orders.PaymentTaken",
        "orders.OrderApproved",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for event in chain {
        let parent = event
            .metadata
            .headers
            .get(TRACEPARENT)
            .unwrap_or_else(|| panic!("{} carries no traceparent", event.event_name));
        let carried = parent.split('-').nth(1).unwrap_or_default();
        assert_eq!(
            TraceId::from_hex(carried).ok(),
            Some(trace),
            "{} carries another trace: {parent}",
            event.event_name
        );
    }

    // A rebuild replays the log in traces of its own, linked to the ones
    // that wrote the events.
    let summary_name = app
        .runner
        .names()
        .into_iter()
        .find(|name| name.starts_with("orders.summary"))
        .expect("the summary runs");
    let before = spans.len();
    app.runner
        .rebuild(summary_name, |_| {})
        .await
        .expect("the summary rebuilds");
    let spans = tracing.spans();
    let replayed: Vec<&SpanData> = spans[before..]
        .iter()
        .filter(|s| text(s, "messaging.consumer.group.name") == summary_name)
        .collect();
    assert!(!replayed.is_empty(), "the replay left no processing span");
    for span in &replayed {
        assert_ne!(
            span.span_context.trace_id(),
            trace,
            "a replayed event joined the checkout's trace"
        );
    }
    assert!(
        replayed.iter().any(|s| s
            .links
            .links
            .iter()
            .any(|l| l.span_context.trace_id() == trace)),
        "no replayed event is linked to the checkout's trace"
    );
    app.runner.shutdown().await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_checkout_and_its_saga_share_one_trace_in_memory() {
    let tracing = Tracing::install();
    let app = App::in_memory().await.expect("the app starts");
    checkout_shares_one_trace(app, &tracing, false).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_checkout_and_its_saga_share_one_trace_on_postgres() {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run ./scripts/test, which finds or starts PostgreSQL")
    });
    let tracing = Tracing::install();
    let schema = format!("orders_otel_{:08x}", fastrand::u32(..));
    let store = PgEventStore::connect_with(&url, PgStoreOptions::new(&schema).expect("a name"))
        .await
        .expect("connects");
    let app = App::on_postgres(store.clone())
        .await
        .expect("the app starts");
    checkout_shares_one_trace(app, &tracing, true).await;
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("the schema drops");
}
