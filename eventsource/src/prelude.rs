//! The names most programs need: `use eventsource::prelude::*;`.
//!
//! The traits (so their methods are in scope), the derives and attributes,
//! the few types a program starts from, and the types handler and upcaster
//! signatures name. Errors, results and options are imported from the crate
//! root (`eventsource::{CommandError, RetryPolicy, ...}`) where they are used.

pub use crate::aggregate::{Aggregate, AggregateConfig};
pub use crate::command::{Command, Handles};
pub use crate::event::{Event, EventSet};
pub use crate::projection::Projection;
pub use crate::query::{Query, ReadModel};
pub use crate::saga::Saga;
pub use crate::store::{CheckpointStore, EventStore, SnapshotStore};

pub use eventsource_derive::{
    Aggregate, Command, Event, Query, aggregate_impl, command_handler, event_sourcing_handler,
    projection, query_handler, read_model, saga, upcaster,
};

pub use crate::command::CommandBus;
pub use crate::memory::InMemoryStore;
pub use crate::projection::ProjectionRunner;
pub use crate::query::QueryBus;
pub use crate::repository::Repository;
pub use crate::saga::{SagaContext, SagaProcessor};

pub use crate::event::{Metadata, NewEvent, RecordedEvent};
pub use crate::projection::ProjectionError;
pub use crate::store::{EventFilter, ExpectedVersion};
pub use crate::upcast::UpcastError;
