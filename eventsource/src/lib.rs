//! Event sourcing and CQRS for Rust, from plain structs and a few attributes.
//!
//! Events are plain structs with `#[derive(Event)]`. An aggregate is a plain
//! struct with `#[derive(Aggregate)]` and an `#[aggregate_impl]` block whose
//! `#[command_handler]` methods decide which events happen and whose
//! `#[event_sourcing_handler]` methods apply them. The macros generate the
//! aggregate's event enum, the dispatch from stored records to handlers
//! (through upcasters for older schema versions), command routing, and the
//! registry entries checked at start-up.
//!
//! ```
//! use eventsource::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug)]
//! #[event(name = "bank.Deposited")]
//! pub struct Deposited { pub amount: i64 }
//!
//! #[derive(Event, Serialize, Deserialize, Debug)]
//! #[event(name = "bank.Withdrawn")]
//! pub struct Withdrawn { pub amount: i64 }
//!
//! #[derive(Command)]
//! #[command(aggregate = Account)]
//! pub struct Deposit { #[aggregate_id] pub account: String, pub amount: i64 }
//!
//! #[derive(Command)]
//! #[command(aggregate = Account)]
//! pub struct Withdraw { #[aggregate_id] pub account: String, pub amount: i64 }
//!
//! #[derive(Debug, PartialEq)]
//! pub enum BankError { InsufficientFunds { balance: i64 } }
//! impl std::fmt::Display for BankError {
//!     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
//!         match self {
//!             Self::InsufficientFunds { balance } => write!(f, "only {balance} available"),
//!         }
//!     }
//! }
//!
//! #[derive(Aggregate, Default, Serialize, Deserialize)]
//! #[aggregate(name = "bank.Account", snapshot_every = 100)]
//! pub struct Account { balance: i64 }
//!
//! #[aggregate_impl]
//! impl Account {
//!     #[command_handler(create_if_missing)]
//!     fn deposit(&self, cmd: &Deposit) -> Deposited {
//!         Deposited { amount: cmd.amount }
//!     }
//!
//!     #[command_handler]
//!     fn withdraw(&self, cmd: &Withdraw) -> Result<Withdrawn, BankError> {
//!         if cmd.amount > self.balance {
//!             return Err(BankError::InsufficientFunds { balance: self.balance });
//!         }
//!         Ok(Withdrawn { amount: cmd.amount })
//!     }
//!
//!     #[event_sourcing_handler]
//!     fn on_deposited(&mut self, e: &Deposited) { self.balance += e.amount }
//!
//!     #[event_sourcing_handler]
//!     fn on_withdrawn(&mut self, e: &Withdrawn) { self.balance -= e.amount }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = InMemoryStore::new();
//! let bus = CommandBus::new(store.clone())?.with_snapshots(store);
//! bus.dispatch(Deposit { account: "a1".into(), amount: 100 }).await?;
//! let err = bus.dispatch(Withdraw { account: "a1".into(), amount: 500 }).await.unwrap_err();
//! assert_eq!(err.rejection(), Some(&BankError::InsufficientFunds { balance: 100 }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Where things are
//!
//! Each concept has a module named for it; each subsystem's errors live
//! with it. `ARCHITECTURE.md` in the repository walks a command and a stored
//! event through them.
//!
//! - [`event`](mod@event): the [`Event`] trait and the event sets the
//!   macros generate, the envelope ([`NewEvent`], [`RecordedEvent`],
//!   [`Metadata`]), encoding and decoding ([`event::codec`]) and
//!   [`DecodeError`].
//! - [`upcast`]: upcasters, their chains and [`UpcastError`].
//! - [`aggregate`](mod@aggregate) and [`command`](mod@command): the aggregate
//!   and command traits, and the [`CommandBus`] that routes each command to
//!   its aggregate.
//! - [`repository`]: loading aggregates and running commands, with retries
//!   on conflicts ([`RetryPolicy`]), snapshots, temporal loads and a state
//!   cache.
//! - [`store`]: the [`EventStore`], [`SnapshotStore`] and [`CheckpointStore`]
//!   traits, what an append expects and answers, and [`StoreError`];
//!   [`memory`] holds the embedded implementations, and the
//!   `eventsource-postgres` crate the PostgreSQL ones.
//! - [`registry`]: the registry of events, upcasters and handlers, validated
//!   at start-up.
//! - [`projection`](mod@projection) and [`saga`](mod@saga): read models and
//!   process managers, run by the
//!   [`ProjectionRunner`](projection::ProjectionRunner).
//! - [`query`](mod@query): queries answered by read models through the
//!   [`QueryBus`](query::QueryBus), once, at a position, or live.
//! - [`telemetry`] (feature `opentelemetry`): the W3C trace context events
//!   carry, so that projections and sagas join the trace of the command
//!   behind each event; [`metrics`](mod@metrics) (feature `metrics`): the
//!   runtime's metrics, their names, units and labels.
//! - [`ops`]: the operations API ([`ops::Operations`]) behind the admin
//!   CLI and console of `eventsource-admin`: streams, the log, projection
//!   control across processes, dead letters, sagas, the registry and
//!   `check`.
//! - [`clock`]: time and randomness behind one seam (the system's, or one a
//!   seed fixes); [`backoff`]: the one backoff.
//! - [`error`]: the runtime's own [`Error`] and [`CommandError`].
//! - `testing` (feature `testing`): the aggregate fixture, a registry check
//!   for test suites, and the store conformance suite.
//! - [`prelude`]: the traits, derives and entry types most programs use.
//!
//! See the `README.md` of the repository for a tour, `examples/bank` and
//! `examples/orders` for complete programs.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
// docs.rs (nightly, `--cfg docsrs`) marks items that need a feature.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod aggregate;
pub mod archive;
pub mod backoff;
pub mod clock;
pub mod command;
pub mod error;
pub mod event;
pub mod memory;
pub mod metrics;
#[doc(hidden)]
pub mod mutation;
pub mod ops;
pub mod prelude;
pub mod projection;
pub mod query;
pub mod registry;
pub mod repository;
pub mod saga;
pub mod shredding;
pub mod store;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod upcast;

#[doc(hidden)]
pub mod __private;

pub use aggregate::{Aggregate, AggregateConfig};
pub use command::{Command, CommandBus, CreationPolicy, Handles};
pub use error::{CommandError, Error};
pub use event::{DecodeError, DecodeErrorKind, EncodedEvent, Event, EventOf, EventSet, IntoEvents};
pub use event::{Metadata, NewEvent, RecordedEvent};
pub use registry::Registry;
pub use repository::{Executed, Loaded, Repository, RetryPolicy};
pub use store::{
    CheckpointStore, EventFilter, EventStore, ExpectedVersion, SnapshotStore, StoreError,
};
pub use upcast::UpcastError;

pub use eventsource_derive::{
    Aggregate, Command, Event, Query, aggregate_impl, command_handler, event_sourcing_handler,
    projection, query_handler, read_model, saga, upcaster,
};

pub use async_trait::async_trait;
pub use chrono;
pub use uuid;

/// A boxed error from a store backend or a user hook.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The README's code, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
