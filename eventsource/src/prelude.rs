//! The names most programs need: `use eventsource::prelude::*;`.

pub use crate::aggregate::{Aggregate, AggregateConfig};
pub use crate::command::CommandBus;
pub use crate::command::{Command, CreationPolicy, Handles};
pub use crate::error::{CommandError, DecodeError, Error, StoreError};
pub use crate::event::{Event, EventSet};
pub use crate::event::{Metadata, NewEvent, RecordedEvent};
pub use crate::memory::InMemoryStore;
pub use crate::projection::{Projection, ProjectionError, ProjectionRunner};
pub use crate::registry::Registry;
pub use crate::repository::{Executed, Loaded, Repository, RetryPolicy};
pub use crate::saga::{Saga, SagaContext, SagaProcessor};
pub use crate::store::{CheckpointStore, EventFilter, EventStore, ExpectedVersion, SnapshotStore};
pub use crate::upcast::UpcastError;

pub use eventsource_derive::{
    Aggregate, Command, Event, aggregate_impl, command_handler, event_sourcing_handler, projection,
    saga, upcaster,
};
