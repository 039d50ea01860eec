//! Traces that follow a business transaction through the log.
//!
//! With the feature `opentelemetry`, and a [`tracing-opentelemetry`] layer
//! installed by the application:
//!
//! - **Commands write the trace context into their events.** When a command
//!   appends, the W3C trace context of the span running it (the
//!   `eventsource.execute` span, a child of whatever span dispatched the
//!   command) is written into each event's metadata headers, as
//!   [`TRACEPARENT`] and, when not empty, [`TRACESTATE`].
//! - **Processing an event joins that trace.** The projection runner opens
//!   a span per event handled by a projection or a saga, named
//!   `process <aggregate type>`, of kind consumer, with the `messaging.*`
//!   attributes of the OpenTelemetry conventions (`messaging.system` is
//!   `eventsource`, `messaging.consumer.group.name` the projection's name,
//!   `messaging.message.id` the event id, `messaging.message.conversation_id`
//!   the correlation id).
//! - **A saga's commands continue the trace.** They run inside the saga's
//!   processing span, so their events carry a context of the same trace;
//!   [`Metadata::caused_by`](crate::Metadata::caused_by) also copies the
//!   headers of the event, so without a tracer installed the context of the
//!   first command still flows on unchanged.
//!
//! # Child or link
//!
//! Live processing is a **child** of the span that appended the event: a
//! saga step is the next step of the same transaction (its commands
//! continue it), and a read model's update is the effect a caller waits for
//! after a command, so both belong in the command's trace, where the delay
//! between append and processing shows as it is.
//!
//! Replaying the log for a rebuild is a new trace per event **linked** to
//! the original one: a replay is not part of the transaction that wrote the
//! event, may run months later, and would otherwise add thousands of spans
//! to traces long closed. An operator's retry of a parked event is linked
//! for the same reason. Sagas are never rebuilt, so a saga step is a child
//! but when an operator retries it. Catching up after downtime is live
//! processing, late: a child, whose distance from its parent shows the
//! delay.
//!
//! Stores report their own calls as client spans through [`client_span`]
//! (`db.system.name`, `db.operation.name`, `db.collection.name`,
//! `db.namespace`), as the PostgreSQL store does.
//!
//! Without the feature nothing here runs: no header is written, no span
//! opened, and [`client_span`] is [`Span::none`](tracing::Span::none).
//!
//! What a command writes, with a tracer installed as an application would
//! (here one that exports nowhere):
//!
//! ```
//! # #[cfg(feature = "opentelemetry")] {
//! use eventsource::telemetry::{TRACEPARENT, inject_current};
//! use opentelemetry::trace::TracerProvider as _;
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
//! let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("shop"));
//! tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
//!     let _request = tracing::info_span!("request").entered();
//!     let mut headers = std::collections::BTreeMap::new();
//!     inject_current(&mut headers);
//!     // version 00, a 32-digit trace id, a 16-digit span id, the flags
//!     let parts: Vec<&str> = headers[TRACEPARENT].split('-').collect();
//!     assert_eq!((parts[0], parts[1].len(), parts[2].len()), ("00", 32, 16));
//! });
//! # }
//! ```
//!
//! [`tracing-opentelemetry`]: https://docs.rs/tracing-opentelemetry

#[cfg(feature = "opentelemetry")]
use std::collections::BTreeMap;

#[cfg(feature = "opentelemetry")]
use crate::event::RecordedEvent;

/// The metadata header holding the W3C `traceparent` of the span that
/// appended an event.
pub const TRACEPARENT: &str = "traceparent";

/// The metadata header holding the W3C `tracestate` that travels with
/// [`TRACEPARENT`].
pub const TRACESTATE: &str = "tracestate";

/// How a processing span relates to the trace of the event it handles.
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Join {
    /// The span is a child of the span that appended the event.
    Child,
    /// The span starts a trace of its own, linked to the event's.
    Link,
}

/// Writes the trace context of the current span into `headers`, replacing
/// any there. Without a valid current span context (no OpenTelemetry
/// layer, or the span is disabled) the headers stay as they are.
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub fn inject_current(headers: &mut BTreeMap<String, String>) {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return;
    }
    headers.remove(TRACESTATE);
    opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .inject_context(&context, &mut Writer(headers));
    // An empty state says nothing; it is not stored.
    if headers.get(TRACESTATE).is_some_and(String::is_empty) {
        headers.remove(TRACESTATE);
    }
}

/// The span context `record` carries in its headers, if a valid one.
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub fn span_context_of(record: &RecordedEvent) -> Option<opentelemetry::trace::SpanContext> {
    use opentelemetry::propagation::TextMapPropagator;
    use opentelemetry::trace::TraceContextExt;

    let context = opentelemetry_sdk::propagation::TraceContextPropagator::new()
        .extract(&Reader(&record.metadata.headers));
    let span = context.span().span_context().clone();
    span.is_valid().then_some(span)
}

/// The span in which `consumer` (a projection or a saga) processes
/// `record`, joined to the event's trace as `join` says.
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub fn processing_span(consumer: &str, record: &RecordedEvent, join: Join) -> tracing::Span {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let span = tracing::info_span!(
        "eventsource.process",
        otel.name = %format!("process {}", record.aggregate_type),
        otel.kind = "consumer",
        messaging.system = "eventsource",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = &*record.aggregate_type,
        messaging.consumer.group.name = consumer,
        messaging.message.id = %record.event_id,
        messaging.message.conversation_id = record
            .metadata
            .correlation_id
            .map(tracing::field::display),
        eventsource.event.name = &*record.event_name,
        eventsource.stream.id = &*record.stream_id,
        eventsource.position = record.global_position,
    );
    if let Some(cause) = span_context_of(record) {
        match join {
            Join::Child => {
                // Fails only once the span has started, which it has not.
                let _ =
                    span.set_parent(opentelemetry::Context::new().with_remote_span_context(cause));
            }
            Join::Link => span.add_link(cause),
        }
    }
    span
}

/// A client span for one call to a store's database: `db.system.name` is
/// `system` (`"postgresql"`), `db.operation.name` is `operation`, and the
/// span is named `<operation> <collection>` as the conventions ask.
/// [`Span::none`](tracing::Span::none) without the feature `opentelemetry`.
#[inline]
pub fn client_span(
    system: &'static str,
    operation: &'static str,
    collection: &'static str,
    namespace: &str,
) -> tracing::Span {
    #[cfg(feature = "opentelemetry")]
    {
        tracing::debug_span!(
            "eventsource.db",
            otel.name = %format!("{operation} {collection}"),
            otel.kind = "client",
            db.system.name = system,
            db.operation.name = operation,
            db.collection.name = collection,
            db.namespace = namespace,
        )
    }
    #[cfg(not(feature = "opentelemetry"))]
    {
        let _ = (system, operation, collection, namespace);
        tracing::Span::none()
    }
}

/// Metadata headers being written, as an OpenTelemetry carrier.
#[cfg(feature = "opentelemetry")]
struct Writer<'a>(&'a mut BTreeMap<String, String>);

/// Metadata headers being read, as an OpenTelemetry carrier.
#[cfg(feature = "opentelemetry")]
struct Reader<'a>(&'a BTreeMap<String, String>);

#[cfg(feature = "opentelemetry")]
impl opentelemetry::propagation::Injector for Writer<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

#[cfg(feature = "opentelemetry")]
impl opentelemetry::propagation::Extractor for Reader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}
