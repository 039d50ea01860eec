//! What a saga handler can do: dispatch commands caused by its event, and end.

use uuid::Uuid;

use super::deadline::{DeadlineRequest, Due};
use super::recorded::{RecordedCommand, Recorder};
use crate::command::{Command, CommandBus, Dispatched, Handles};
use crate::error::{CommandError, Error};
use crate::event::{Metadata, RecordedEvent};
use crate::repository::Executed;

/// Given to saga handlers with the event they handle.
#[derive(Debug)]
pub struct SagaContext<'a> {
    bus: &'a CommandBus,
    cause: &'a RecordedEvent,
    completed: bool,
    dispatched: u32,
    /// When set, commands are recorded here instead of dispatched.
    recorder: Option<&'a Recorder>,
    /// Deadlines scheduled and cancelled, applied once the handler succeeded.
    deadlines: Vec<DeadlineRequest>,
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
            recorder: None,
            deadlines: Vec::new(),
            saga,
            declared,
        }
    }

    /// A context that records the commands instead of dispatching them.
    #[cfg(feature = "testing")]
    pub(crate) fn recording(
        bus: &'a CommandBus,
        cause: &'a RecordedEvent,
        saga: &'static str,
        declared: Option<&'static [&'static str]>,
        recorder: &'a Recorder,
    ) -> Self {
        Self {
            recorder: Some(recorder),
            ..Self::new(bus, cause, saga, declared)
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
        if let Some(recorder) = self.recorder {
            // Recorded, not run: the handler sees a command that changed
            // nothing (version 0, no events, the aggregate's default state).
            let stream_id = command.aggregate_id().into();
            recorder.push(RecordedCommand::new(command, metadata));
            return recorded::<C>(stream_id);
        }
        self.bus.dispatch_with(command, metadata)
    }

    /// The metadata a dispatched command gets: the event's correlation id
    /// (or its id), the event as the cause, and the event's actor and
    /// headers ([`Metadata::caused_by`]).
    pub fn metadata(&self) -> Metadata {
        Metadata::caused_by(self.cause)
    }

    /// Asks to be called back at `at` with a [`DeadlineReached`] event named
    /// `name` (replacing a deadline of that name), unless cancelled first.
    ///
    /// [`DeadlineReached`]: super::DeadlineReached
    pub fn schedule_at(
        &mut self,
        name: impl Into<String>,
        at: chrono::DateTime<chrono::Utc>,
        payload: serde_json::Value,
    ) {
        self.deadlines.push(DeadlineRequest::Schedule {
            name: name.into(),
            due: Due::At(at),
            payload,
        });
    }

    /// Asks to be called back `after` this event is processed (see
    /// [`SagaContext::schedule_at`]).
    pub fn schedule_after(
        &mut self,
        name: impl Into<String>,
        after: std::time::Duration,
        payload: serde_json::Value,
    ) {
        self.deadlines.push(DeadlineRequest::Schedule {
            name: name.into(),
            due: Due::After(after),
            payload,
        });
    }

    /// Cancels deadline `name` of this instance, if it has not fired.
    pub fn cancel_deadline(&mut self, name: impl Into<String>) {
        self.deadlines
            .push(DeadlineRequest::Cancel { name: name.into() });
    }

    /// The deadline requests made so far by this handler.
    pub fn deadline_requests(&self) -> &[DeadlineRequest] {
        &self.deadlines
    }

    pub(crate) fn take_deadline_requests(&mut self) -> Vec<DeadlineRequest> {
        std::mem::take(&mut self.deadlines)
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

/// What a recorded dispatch answers. Named through the handler's error
/// type, which (unlike a bare `E`) is known to outlive any borrow.
fn recorded<'a, C>(
    stream_id: std::sync::Arc<str>,
) -> Dispatched<'a, C::Aggregate, <C::Aggregate as Handles<C>>::Error>
where
    C: Command,
    C::Aggregate: Handles<C>,
    <C::Aggregate as Handles<C>>::Error: Send,
{
    let executed = Executed {
        command_id: Uuid::nil(),
        stream_id,
        version: 0,
        events: Vec::new(),
        appended: None,
        state: Default::default(),
        attempts: 0,
        snapshot_saved: false,
    };
    Box::pin(std::future::ready(Ok(executed)))
}
