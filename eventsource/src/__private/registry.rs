//! For the registry entries every macro submits.

pub use crate::registry::from_types::{
    aggregate_name, aggregate_snapshot_every, command_aggregate_name, command_name, event_set_names,
};
pub use crate::registry::{
    AggregateRegistration, CommandRegistration, EventRegistration, ProjectionRegistration,
    QueryHandlerRegistration, QueryRegistration, Registry, SagaRegistration, UpcasterRegistration,
};
pub use crate::upcast::UpcasterChain;
