//! HTTP for [eventsource] on axum: commands and queries behind
//! routes, with the framework's guarantees carried over HTTP.
//!
//! - **Command metadata** from headers ([`CommandMetadata`]): the correlation
//!   id, the W3C trace context, and the actor from an extractor of the
//!   application's ([`Actor`]).
//! - **Problem details** (RFC 9457, [`Problem`]) for every error: command,
//!   query and request errors convert with `?`, each with its status (see
//!   [`errors`]); a 500 says nothing of the server's internals.
//! - **Read-your-writes across requests**: a command's response carries the
//!   position its events were appended at ([`Appended`], header
//!   [`POSITION`]); a query request that sends it back ([`ReadAfter`]) is
//!   answered once the read model has caught up with it.
//! - **Live read models**: a subscription query as server-sent events
//!   ([`live`]), ended when the client goes away.
//! - **Optimistic concurrency**: the aggregate's version as `ETag`, and
//!   `If-Match` as the version a command expects ([`IfMatch`]).
//! - **JSON bodies** whose mistakes are 400 problems ([`Json`]).
//!
//! ```
//! use std::sync::Arc;
//!
//! use axum::extract::{Path, State};
//! use axum::routing::{get, post};
//! use axum::{Router, http::StatusCode};
//! use eventsource::prelude::*;
//! use eventsource_axum::{Appended, CommandMetadata, IfMatch, Json, Problem, ReadAfter};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug)]
//! #[event(name = "docs.axum.Renamed")]
//! struct Renamed { name: String }
//!
//! #[derive(Command, Deserialize)]
//! #[command(aggregate = Pet)]
//! #[serde(deny_unknown_fields)]
//! struct Rename { #[serde(skip)] #[aggregate_id] id: String, name: String }
//!
//! #[derive(Debug, Serialize, thiserror::Error)]
//! enum PetError {
//!     #[error("a name cannot be empty")]
//!     EmptyName,
//! }
//!
//! #[derive(Aggregate, Default)]
//! #[aggregate(name = "docs.axum.Pet")]
//! struct Pet { name: String }
//!
//! #[aggregate_impl]
//! impl Pet {
//!     #[command_handler(create_if_missing)]
//!     fn rename(&self, cmd: &Rename) -> Result<Renamed, PetError> {
//!         if cmd.name.is_empty() {
//!             return Err(PetError::EmptyName);
//!         }
//!         Ok(Renamed { name: cmd.name.clone() })
//!     }
//!
//!     #[event_sourcing_handler]
//!     fn on_renamed(&mut self, e: &Renamed) { self.name = e.name.clone() }
//! }
//!
//! /// `PUT /pets/{id}/name`: 200 with the position and the new version, 422
//! /// for an empty name, 409 when `If-Match` is stale, 400 for a bad body.
//! async fn rename(
//!     State(bus): State<CommandBus>,
//!     Path(id): Path<String>,
//!     IfMatch(expected): IfMatch,
//!     CommandMetadata(metadata, _): CommandMetadata,
//!     Json(mut command): Json<Rename>,
//! ) -> Result<(StatusCode, Appended), Problem> {
//!     command.id = id;
//!     let done = bus.dispatch_expecting(command, metadata, expected).await?;
//!     Ok((StatusCode::OK, Appended::from(&done)))
//! }
//!
//! let bus = CommandBus::new(InMemoryStore::new())?;
//! let app: Router = Router::new().route("/pets/{id}/name", post(rename)).with_state(bus);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod concurrency;
pub mod errors;
mod json;
mod metadata;
mod position;
mod problem;
mod sse;
mod trace;

pub use concurrency::{IfMatch, etag};
pub use json::Json;
pub use metadata::{Actor, CORRELATION_ID, CommandMetadata, NoActor};
pub use position::{Appended, POSITION, ReadAfter};
pub use problem::{PROBLEM_JSON, Problem};
pub use sse::{KEEP_ALIVE, live, live_with};
pub use trace::{TRACEPARENT, TRACESTATE, TraceContext};
