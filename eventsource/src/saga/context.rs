//! What a saga handler can do: dispatch commands caused by its event, and end.

use uuid::Uuid;

use crate::command::{Command, CommandBus, Dispatched, Handles};
use crate::error::{CommandError, Error};
use crate::event::{Metadata, RecordedEvent};

/// Given to saga handlers with the event they handle.
#[derive(Debug)]
pub struct SagaContext<'a> {
    bus: &'a CommandBus,
    cause: &'a RecordedEvent,
    completed: bool,
    dispatched: u32,
    saga: &'static str,
    /// The commands the saga declares, when it declares them.
    declared: Option<&'static [&'static str]>,
}

impl<'a> SagaContext<'a> {
    pub(crate) fn new(
        bus: &'a CommandBus,
        cause: &'a RecordedEvent,
        saga: &'static str,
        declared: Option<&'static [&'static str]>,
    ) -> Self {
        Self {
            bus,
            cause,
            completed: false,
            dispatched: 0,
            saga,
            declared,
        }
    }

    /// Dispatches `command` as caused by the event being handled: it keeps
    /// the event's correlation id, actor and headers and names the event as
    /// its cause, and so do the events it produces (see
    /// [`SagaContext::metadata`]).
    pub fn dispatch<C, E>(&mut self, command: C) -> Dispatched<'a, C::Aggregate, E>
    where
        C: Command,
        C::Aggregate: Handles<C, Error = E>,
        E: Send,
    {
        let metadata = self.metadata();
        self.dispatch_with(command, metadata)
    }

    /// Dispatches `command` with `metadata`, usually [`SagaContext::metadata`]
    /// changed: to keep a header local to the event, take
    /// `let mut metadata = ctx.metadata();`, remove the header with
    /// `metadata.headers.remove("x-request-id");` and dispatch with this.
    pub fn dispatch_with<C, E>(
        &mut self,
        command: C,
        metadata: Metadata,
    ) -> Dispatched<'a, C::Aggregate, E>
    where
        C: Command,
        C::Aggregate: Handles<C, Error = E>,
        E: Send,
    {
        // A declaring saga keeps to its declaration, so the event-flow graph
        // drawn from it is the truth: anything else is refused, not run.
        if let Some(declared) = self.declared {
            if !declared.contains(&C::NAME) {
                let error = Error::UndeclaredDispatch {
                    saga: self.saga,
                    command: C::NAME,
                    declared,
                };
                return Box::pin(async move { Err(CommandError::Failed(error)) });
            }
        }
        self.dispatched += 1;
        self.bus.dispatch_with(command, metadata)
    }

    /// The metadata a dispatched command gets: the event's correlation id
    /// (or its id), the event as the cause, and the event's actor and
    /// headers ([`Metadata::caused_by`]).
    pub fn metadata(&self) -> Metadata {
        Metadata::caused_by(self.cause)
    }

    /// Ends this saga instance once the handler returns; later events with
    /// its correlation id are ignored.
    pub fn complete(&mut self) {
        self.completed = true;
    }

    /// Whether [`SagaContext::complete`] was called.
    pub fn is_completed(&self) -> bool {
        self.completed
    }

    /// The event being handled.
    pub fn cause(&self) -> &RecordedEvent {
        self.cause
    }

    /// The correlation id that identifies this saga instance.
    pub fn correlation_id(&self) -> Uuid {
        correlation_of(self.cause)
    }

    /// How many commands this handler dispatched.
    pub fn dispatched(&self) -> u32 {
        self.dispatched
    }
}

/// The saga instance an event belongs to.
pub(crate) fn correlation_of(event: &RecordedEvent) -> Uuid {
    event.metadata.correlation_id.unwrap_or(event.event_id)
}
