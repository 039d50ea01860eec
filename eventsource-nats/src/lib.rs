//! An event bus on NATS JetStream for `eventsource`.
//!
//! - [`relay::Relay`] follows the global log of any
//!   [`EventStore`](eventsource::store::EventStore) and publishes each
//!   event to a JetStream stream, in global order and exactly once
//!   (`Nats-Msg-Id` = event id), with its position, name, schema version,
//!   correlation, causation and trace context in headers
//!   ([`headers`]). Its checkpoint and lease live in a
//!   [`ProjectionBackend`](eventsource::projection::ProjectionBackend), like
//!   a projection's: one relay of each name publishes.
//! - [`source::JetStreamSource`] reads that stream as an event store, so a
//!   [`ProjectionRunner`](eventsource::projection::ProjectionRunner) in a
//!   service that reaches NATS but not the database runs the same
//!   projections and sagas, with the same dead-letter rules; each message
//!   is acknowledged after the read model committed.
//! - [`subject`] names each event's subject after its aggregate type and
//!   stream id, encoding free text into valid subject tokens.
//!
//! Subjects are plain functions of the names, checked without a server:
//!
//! ```
//! use eventsource_nats::subject::SubjectScheme;
//!
//! let subjects = SubjectScheme::prefixed("shop.events")?;
//! assert_eq!(
//!     subjects.subject("orders.Order", "order 7")?,
//!     "shop.events.orders%2EOrder.order%207"
//! );
//! // A scheme of your own is checked: wildcards and empty tokens are refused.
//! let raw = SubjectScheme::custom(|aggregate, stream| format!("raw.{aggregate}.{stream}"));
//! assert!(raw.subject("orders", "a.*").is_err());
//! # Ok::<(), eventsource_nats::subject::SubjectError>(())
//! ```
//!
//! A relay and a remote runner (they need a server):
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
//! use eventsource::projection::ProjectionRunner;
//! use eventsource_nats::relay::{Relay, RelayOptions};
//! use eventsource_nats::source::{JetStreamSource, SourceOptions};
//! use eventsource_nats::stream::StreamSettings;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let url = eventsource_nats::url_from_env();
//! let client = eventsource_nats::connect(&url, Duration::from_secs(5)).await?;
//! // Where the events are written: here in memory, usually PostgreSQL
//! // (`PgEventStore`, with `store.projection_backend()` for the lease).
//! let store = InMemoryStore::new();
//! let stream = StreamSettings::new("EVENTS", vec!["events.>".into()])?;
//! let relay = Relay::new(
//!     store.clone(),
//!     InMemoryProjectionBackend::new(),
//!     client.clone(),
//!     RelayOptions::new("relay", stream)?,
//! )
//! .spawn();
//!
//! // In another service: the same projections, fed from JetStream.
//! let source = JetStreamSource::new(client, SourceOptions::new("EVENTS", "reporting")?);
//! let runner = ProjectionRunner::new(source)?;
//! // runner.start(MyProjection::default(), its_backend).await?;
//! # relay.stop().await?;
//! # Ok(())
//! # }
//! ```

mod connect;
mod error;
pub mod headers;
pub mod relay;
pub mod source;
pub mod stream;
pub mod subject;

pub use connect::{DEFAULT_URL, connect, url_from_env};
pub use error::NatsError;
