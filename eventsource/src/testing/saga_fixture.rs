//! [`SagaFixture`]: given the events a saga instance saw, when one more
//! arrives, expect the commands it dispatches and whether it ends.
//!
//! The saga runs its real handlers on events that went through the codec
//! (encoded and decoded as a store would hand them over, upcasters
//! included); the commands it dispatches are recorded rather than run.

use std::fmt::Debug;
use std::sync::Arc;

use crate::clock::Clock;
use crate::command::{Command, CommandBus};
use crate::event::{Event, Metadata, NewEvent, RecordedEvent};
use crate::memory::InMemoryStore;
use crate::saga::{DeadlineRequest, RecordedCommand, Recorder, Saga, SagaContext};

/// Given events, when an event, then expect commands: one saga instance.
///
/// Use it from a plain `#[test]`: it runs the saga's async handlers on a
/// runtime of its own, which cannot start inside another.
///
/// ```
/// use eventsource::prelude::*;
/// use eventsource::testing::SagaFixture;
/// use eventsource::BoxError;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug)]
/// #[event(name = "docs.Placed")]
/// struct Placed { order: String }
///
/// #[derive(Command, Debug, PartialEq)]
/// #[command(aggregate = Order)]
/// struct Pay { #[aggregate_id] order: String }
///
/// #[derive(Aggregate, Default)]
/// #[aggregate(name = "docs.Order")]
/// struct Order;
///
/// #[aggregate_impl]
/// impl Order {
///     #[command_handler(create)]
///     fn pay(&self, cmd: &Pay) -> Placed { Placed { order: cmd.order.clone() } }
///     #[event_sourcing_handler]
///     fn on_placed(&mut self, _: &Placed) {}
/// }
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Billing;
///
/// #[saga(name = "docs.billing")]
/// impl Billing {
///     #[start]
///     async fn on_placed(&mut self, e: &Placed, ctx: &mut SagaContext<'_>) -> Result<(), BoxError> {
///         ctx.dispatch(Pay { order: e.order.clone() }).await?;
///         Ok(())
///     }
/// }
///
/// SagaFixture::<Billing>::new()
///     .when(Placed { order: "o1".into() })
///     .then_expect_dispatched(Pay { order: "o1".into() });
/// ```
pub struct SagaFixture<S: Saga> {
    state: Option<S>,
    completed: bool,
    correlation: uuid::Uuid,
    position: u64,
    bus: CommandBus,
}

/// What the saga did with the fixture's `when` event.
pub struct SagaOutcome<S: Saga> {
    handled: bool,
    commands: Vec<RecordedCommand>,
    deadlines: Vec<DeadlineRequest>,
    completed: bool,
    state: Option<S>,
}

impl<S: Saga> Default for SagaFixture<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Saga> SagaFixture<S> {
    /// A fixture with no instance yet.
    #[track_caller]
    pub fn new() -> Self {
        let bus = match CommandBus::new(InMemoryStore::new()) {
            Ok(bus) => bus,
            Err(e) => panic!("the program's registry is inconsistent: {e}"),
        };
        Self {
            state: None,
            completed: false,
            correlation: Clock::current().uuid_v7(),
            position: 0,
            bus,
        }
    }

    /// A fixture whose instance already saw `events` (the commands it
    /// dispatched then are dropped).
    #[track_caller]
    pub fn given<E: Event>(events: impl IntoIterator<Item = E>) -> Self {
        let mut fixture = Self::new();
        for event in events {
            fixture.deliver(&event);
        }
        fixture
    }

    /// One more earlier event, of any type.
    #[track_caller]
    pub fn and<E: Event>(mut self, event: E) -> Self {
        self.deliver(&event);
        self
    }

    /// Delivers `event` and records what the saga did.
    #[track_caller]
    pub fn when<E: Event>(mut self, event: E) -> SagaOutcome<S> {
        let (handled, commands, deadlines) = self.deliver(&event);
        SagaOutcome {
            handled,
            commands,
            deadlines,
            completed: self.completed,
            state: self.state,
        }
    }

    #[track_caller]
    fn deliver<E: Event>(
        &mut self,
        event: &E,
    ) -> (bool, Vec<RecordedCommand>, Vec<DeadlineRequest>) {
        self.position += 1;
        let record = self.record(event);
        if self.completed {
            return (false, Vec::new(), Vec::new());
        }
        let mut state = match self.state.take() {
            Some(state) => state,
            None if S::starts(&record) => S::default(),
            None => return (false, Vec::new(), Vec::new()),
        };
        let recorder = Recorder::default();
        let mut context =
            SagaContext::recording(&self.bus, &record, S::NAME, S::DISPATCHES, &recorder);
        let outcome = run(state.handle(&record, &mut context));
        let handled = match outcome {
            Ok(handled) => handled,
            Err(e) => panic!("saga `{}` failed on `{}`: {e}", S::NAME, E::NAME),
        };
        self.completed = context.is_completed();
        let deadlines = context.take_deadline_requests();
        self.state = Some(state);
        (handled, recorder.take(), deadlines)
    }

    #[track_caller]
    fn record<E: Event>(&self, event: &E) -> RecordedEvent {
        let metadata = Metadata::new().with_correlation_id(self.correlation);
        let new = match NewEvent::from_event(event, metadata) {
            Ok(new) => new,
            Err(e) => panic!("event `{}` does not serialize: {e}", E::NAME),
        };
        RecordedEvent {
            event_id: new.event_id,
            stream_id: Arc::from("saga-fixture"),
            aggregate_type: Arc::from(""),
            stream_version: self.position,
            global_position: self.position,
            event_name: new.event_name,
            schema_version: new.schema_version,
            payload: new.payload,
            metadata: Arc::new(new.metadata),
            recorded_at: Clock::current().now(),
        }
    }
}

/// Runs a saga handler to completion on a runtime of its own: the
/// commands are recorded, so nothing it awaits needs a running reactor
/// beyond timers.
#[track_caller]
fn run<T>(future: impl std::future::Future<Output = T>) -> T {
    match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime.block_on(future),
        Err(e) => panic!("cannot start a runtime for the saga fixture: {e}"),
    }
}

impl<S: Saga> SagaOutcome<S> {
    /// The commands dispatched, in order.
    pub fn commands(&self) -> &[RecordedCommand] {
        &self.commands
    }

    /// The deadlines scheduled and cancelled, in order.
    pub fn deadlines(&self) -> &[DeadlineRequest] {
        &self.deadlines
    }

    /// Fails unless the saga scheduled a deadline named `name`.
    #[track_caller]
    pub fn then_expect_deadline(self, name: &str) -> Self {
        let scheduled = self
            .deadlines
            .iter()
            .any(|d| matches!(d, DeadlineRequest::Schedule { name: n, .. } if n == name));
        if !scheduled {
            panic!(
                "saga `{}`: expected deadline `{name}` scheduled, got {:?}",
                S::NAME,
                self.deadlines
            );
        }
        self
    }

    /// Fails unless the saga cancelled deadline `name`.
    #[track_caller]
    pub fn then_expect_deadline_cancelled(self, name: &str) -> Self {
        let cancelled = self
            .deadlines
            .iter()
            .any(|d| matches!(d, DeadlineRequest::Cancel { name: n } if n == name));
        if !cancelled {
            panic!(
                "saga `{}`: expected deadline `{name}` cancelled, got {:?}",
                S::NAME,
                self.deadlines
            );
        }
        self
    }

    /// Whether the saga handled the event (an instance existed or started).
    pub fn handled(&self) -> bool {
        self.handled
    }

    /// Fails unless the commands dispatched are exactly `expected`, one `C`.
    #[track_caller]
    pub fn then_expect_dispatched<C: Command + PartialEq + Debug>(self, expected: C) -> Self {
        let found: Vec<&C> = self
            .commands
            .iter()
            .filter_map(|c| c.downcast::<C>())
            .collect();
        if self.commands.len() != 1 || found.first() != Some(&&expected) {
            panic!(
                "saga `{}`: expected exactly {expected:?} dispatched, got {:?}",
                S::NAME,
                self.names()
            );
        }
        self
    }

    /// Fails unless the saga dispatched a command equal to `expected`
    /// (possibly among others).
    #[track_caller]
    pub fn then_expect_dispatched_among<C: Command + PartialEq + Debug>(self, expected: C) -> Self {
        if !self
            .commands
            .iter()
            .any(|c| c.downcast::<C>() == Some(&expected))
        {
            panic!(
                "saga `{}`: expected {expected:?} among the commands dispatched, got {:?}",
                S::NAME,
                self.names()
            );
        }
        self
    }

    /// Fails if the saga dispatched any command.
    #[track_caller]
    pub fn then_expect_no_commands(self) -> Self {
        if !self.commands.is_empty() {
            panic!(
                "saga `{}`: expected no command, got {:?}",
                S::NAME,
                self.names()
            );
        }
        self
    }

    /// Fails unless the instance ended (`ctx.complete()`), or if `ended` is
    /// false, unless it goes on.
    #[track_caller]
    pub fn then_expect_completed(self, ended: bool) -> Self {
        if self.completed != ended {
            panic!(
                "saga `{}`: expected the instance {}",
                S::NAME,
                if ended { "to end" } else { "to go on" }
            );
        }
        self
    }

    /// Runs `check` on the instance's state (fails if there is no instance).
    #[track_caller]
    pub fn then_expect_state(self, check: impl FnOnce(&S)) -> Self {
        match &self.state {
            Some(state) => check(state),
            None => panic!("saga `{}`: no instance was started", S::NAME),
        }
        self
    }

    fn names(&self) -> Vec<String> {
        self.commands
            .iter()
            .map(|c| format!("{} for `{}`", c.name, c.aggregate_id))
            .collect()
    }
}
