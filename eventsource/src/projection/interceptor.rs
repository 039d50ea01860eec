//! Event interceptors: code that runs around every event a projection or a
//! saga (a saga runs as a projection) is about to handle, in the order they
//! were added to the [`ProjectionRunner`](super::ProjectionRunner).
//!
//! Before the handler, an interceptor may let the event through, skip it
//! (the checkpoint moves past it, nothing is handled), or fail it: the
//! failure is treated as the handler's, retried and then parked. After the
//! handler, interceptors observe the result, in reverse order.

use std::sync::Arc;

use async_trait::async_trait;

use super::error::ProjectionError;
use crate::BoxError;
use crate::event::RecordedEvent;

/// What a projection is about to handle.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct EventInfo<'a> {
    /// The projection's (or saga's) name.
    pub processor: &'static str,
    /// The projection's version.
    pub version: u32,
    /// The event.
    pub record: &'a RecordedEvent,
}

/// What an interceptor decides before the handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventDecision {
    /// Hand the event to the handler.
    Handle,
    /// Move past it without handling it.
    Skip,
}

/// Runs around every event a [`ProjectionRunner`](super::ProjectionRunner)
/// hands to a projection or saga. Both methods do nothing by default.
#[async_trait]
pub trait EventInterceptor: Send + Sync + 'static {
    /// The name errors give the interceptor (its type by default).
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Runs before the handler. An error fails the event as the handler
    /// failing would (retried, then parked).
    async fn before(&self, event: &EventInfo<'_>) -> Result<EventDecision, BoxError> {
        let _ = event;
        Ok(EventDecision::Handle)
    }

    /// Runs after the handler, or after the event was skipped (`handled`
    /// is then `false`), with the handler's result.
    async fn after(
        &self,
        event: &EventInfo<'_>,
        handled: bool,
        result: Result<(), &ProjectionError>,
    ) {
        let _ = (event, handled, result);
    }
}

/// The event interceptors of a runner, in the order added.
pub(crate) type EventInterceptors = Arc<Vec<Arc<dyn EventInterceptor>>>;
