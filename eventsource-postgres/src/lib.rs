//! PostgreSQL stores for eventsource (docs in progress).

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod append;
mod backoff;
mod checkpoints;
mod error;
mod events;
pub mod migrate;
mod notify;
mod options;
mod read;
mod row;
mod schema;
mod snapshots;
mod sql;
mod store;
mod subscribe;

pub use options::{DEFAULT_SCHEMA, PgStoreOptions};
pub use schema::{Identifier, InvalidIdentifier};
pub use store::PgEventStore;
