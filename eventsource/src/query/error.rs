//! What asking a query can fail with.

use thiserror::Error;

use crate::BoxError;
use crate::projection::RunnerError;
use crate::store::StoreError;

/// Why a query got no answer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The read model that answers the query was not given to the bus.
    #[error(
        "query `{query}` is answered by read model `{read_model}`, which this bus does not serve: add it with `QueryBus::with_read_model`"
    )]
    NotServed {
        /// The query.
        query: &'static str,
        /// The read model's Rust type.
        read_model: &'static str,
    },
    /// The query handler failed.
    #[error("the handler of query `{query}` failed: {source}")]
    Handler {
        /// The query.
        query: &'static str,
        /// The handler's error.
        source: BoxError,
    },
    /// A read at a position or a subscription needs the projection keeping
    /// the read model, and there is none to follow: the read model names no
    /// projection, or the bus has no runner.
    #[error(
        "query `{query}` asks for a position or for updates, but {reason}: give the read model a projection (`#[read_model(projection = ...)]`) and the bus a runner (`QueryBus::with_runner`)"
    )]
    NoProjection {
        /// The query.
        query: &'static str,
        /// What is missing.
        reason: &'static str,
    },
    /// The projection did not reach the position in time, has stopped, or
    /// does not run in the bus's runner.
    #[error(transparent)]
    Runner(#[from] RunnerError),
}

impl QueryError {
    /// Whether the read model had not reached the position asked for within
    /// the timeout: asking again later may succeed.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Self::Runner(RunnerError::Timeout { .. }))
    }

    /// Whether the store behind the read model could not be reached: the
    /// handler failed with [`StoreError::Connection`], or the runner's store
    /// did.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Handler { source, .. } => source
                .downcast_ref::<StoreError>()
                .is_some_and(|e| matches!(e, StoreError::Connection(_))),
            Self::Runner(RunnerError::Store(StoreError::Connection(_))) => true,
            _ => false,
        }
    }
}
