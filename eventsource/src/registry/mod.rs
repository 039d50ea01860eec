//! The registry of events, upcasters, aggregates, commands, projections,
//! sagas, queries and query handlers, built once from what the macros submit.
//!
//! The macros submit entries with `inventory`, so types defined in any crate
//! linked into the program are found. [`Registry::global`] builds the registry
//! on first use; [`Registry::validate`] reports every inconsistency at once.
//!
//! From it the module draws what a team would otherwise maintain by hand:
//! - [`FlowGraph`]: commands → aggregates → events → projections and sagas
//!   → the commands sagas dispatch, as Mermaid, SVG or JSON;
//! - [`Catalogue`]: every event with its versions, aliases, upcasters,
//!   emitters, handlers and a JSON Schema per version (Markdown or JSON);
//! - [`SchemaLock`]: the committed `events.lock.json` and the drift check
//!   that fails on a breaking change to a recorded version;
//! - [`PayloadCheck`]: stored payloads validated against the schema of the
//!   version they were recorded at.
//!
//! ```
//! use eventsource::registry::Registry;
//!
//! let registry = Registry::global();
//! registry.validate().expect("a consistent registry");
//! println!("{}", registry.table());
//! ```

mod catalogue;
mod checked;
mod decodable;
mod entries;
mod flow;
pub(crate) mod from_types;
mod lock;
mod payloads;
mod problems;
mod table;
mod validate;

pub use crate::upcast::UpcasterChain;
pub use catalogue::{Catalogue, CatalogueEntry, SchemaSource, VersionSchema};
pub use checked::Registry;
pub use decodable::Undecodable;
pub use entries::{
    AggregateRegistration, CommandRegistration, EventRegistration, ProjectionRegistration,
    QueryHandlerRegistration, QueryRegistration, RegistryParts, SagaRegistration,
    UpcasterRegistration,
};
pub use flow::{FlowEdge, FlowGraph, FlowNode, NodeKind};
pub use lock::{LockChange, LockError, LockReport, LockedEvent, SchemaLock};
pub use payloads::{InvalidSchema, PayloadCheck, PayloadProblem, PayloadReport, Sampling};
pub use problems::{RegistryProblem, RegistryReport};
