//! Given / when / then tests for aggregates, with no store involved.

use std::fmt::Debug;
use std::sync::Arc;

use serde_json::Value;

use crate::aggregate::Aggregate;
use crate::clock::Clock;
use crate::command::{Command, CreationPolicy, Handles};
use crate::error::{CommandError, Error};
use crate::event::EventSet;
use crate::event::{Metadata, RecordedEvent};

/// A test of one aggregate: prior events, one command, expected outcome.
///
/// Events given and produced go through the same JSON encoding and decoding
/// as stored ones, so a serde mismatch fails the test. Produced events are
/// compared by name and JSON payload, so events need not implement `PartialEq`.
///
/// ```
/// use eventsource::prelude::*;
/// use eventsource::testing::AggregateFixture;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug)]
/// #[event(name = "docs.Lit")]
/// struct Lit;
///
/// #[derive(Command)]
/// #[command(aggregate = Lamp)]
/// struct Light { #[aggregate_id] id: String }
///
/// #[derive(Debug, PartialEq)]
/// struct AlreadyLit;
/// impl std::fmt::Display for AlreadyLit {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("already lit")
///     }
/// }
///
/// #[derive(Aggregate, Default)]
/// #[aggregate(name = "docs.Lamp")]
/// struct Lamp { lit: bool }
///
/// #[aggregate_impl]
/// impl Lamp {
///     #[command_handler(create_if_missing)]
///     fn light(&self, _cmd: &Light) -> Result<Lit, AlreadyLit> {
///         if self.lit { Err(AlreadyLit) } else { Ok(Lit) }
///     }
///
///     #[event_sourcing_handler]
///     fn on_lit(&mut self, _e: &Lit) {
///         self.lit = true;
///     }
/// }
///
/// AggregateFixture::<Lamp>::new()
///     .when(Light { id: "l".into() })
///     .then_expect_events([Lit]);
///
/// AggregateFixture::<Lamp>::given([Lit])
///     .when(Light { id: "l".into() })
///     .then_expect_error(AlreadyLit);
/// ```
pub struct AggregateFixture<A: Aggregate> {
    given: Vec<A::Event>,
    metadata: Metadata,
}

impl<A: Aggregate> Default for AggregateFixture<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Aggregate> AggregateFixture<A> {
    /// A fixture with no prior events: the aggregate does not exist yet.
    pub fn new() -> Self {
        Self {
            given: Vec::new(),
            metadata: Metadata::default(),
        }
    }

    /// A fixture whose aggregate has already applied `events`.
    pub fn given<I>(events: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<A::Event>,
    {
        Self::new().and(events)
    }

    /// Adds more prior events.
    pub fn and<I>(mut self, events: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<A::Event>,
    {
        self.given.extend(events.into_iter().map(Into::into));
        self
    }

    /// Sets the metadata the command runs with.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Runs `command` against the aggregate built from the given events.
    #[track_caller]
    pub fn when<C>(self, command: C) -> FixtureOutcome<A, A::Error>
    where
        C: Command<Aggregate = A>,
        A: Handles<C>,
    {
        let stream_id: Arc<str> = A::stream_id(&command.aggregate_id()).into();
        let mut state = A::default();
        let version = self.given.len() as u64;
        for (i, event) in self.given.iter().enumerate() {
            let replayed = round_trip(&stream_id, i as u64 + 1, event);
            state.apply(&replayed);
        }
        let result = match (A::POLICY, version) {
            (CreationPolicy::Existing, 0) => Err(CommandError::Failed(Error::NotFound {
                aggregate: A::NAME,
                stream_id: stream_id.clone(),
            })),
            (CreationPolicy::Create, v) if v > 0 => {
                Err(CommandError::Failed(Error::AlreadyExists {
                    aggregate: A::NAME,
                    stream_id: stream_id.clone(),
                    version: v,
                }))
            }
            _ => state
                .handle(&command, &self.metadata)
                .map_err(CommandError::Rejected),
        };
        if let Ok(events) = &result {
            for (i, event) in events.iter().enumerate() {
                let replayed = round_trip(&stream_id, version + i as u64 + 1, event);
                state.apply(&replayed);
            }
        }
        FixtureOutcome { result, state }
    }
}

/// Encodes `event` and decodes it back as the store would hand it over.
#[track_caller]
fn round_trip<E: EventSet>(stream_id: &Arc<str>, version: u64, event: &E) -> E {
    let encoded = match event.encode() {
        Ok(encoded) => encoded,
        Err(e) => panic!("event `{}` does not serialize: {e}", event.name()),
    };
    // The ambient clock, so that a seeded test gets the same records.
    let clock = Clock::current();
    let record = RecordedEvent {
        event_id: clock.uuid_v7(),
        stream_id: stream_id.clone(),
        aggregate_type: Arc::from(""),
        stream_version: version,
        global_position: version,
        event_name: encoded.name.into(),
        schema_version: encoded.version,
        payload: encoded.payload.into(),
        metadata: Arc::default(),
        recorded_at: clock.now(),
    };
    match E::decode(&record) {
        Ok(decoded) => decoded,
        Err(e) => panic!(
            "event `{}` does not survive a store round trip: {e}",
            event.name()
        ),
    }
}

/// What a fixture's command did; assert on it with the `then_*` methods.
pub struct FixtureOutcome<A: Aggregate, E> {
    result: Result<Vec<A::Event>, CommandError<E>>,
    state: A,
}

impl<A: Aggregate, E: Debug> FixtureOutcome<A, E> {
    /// Asserts the command produced exactly `expected`, in order.
    #[track_caller]
    pub fn then_expect_events<I>(self, expected: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<A::Event>,
    {
        let expected: Vec<(String, Value)> =
            expected.into_iter().map(|e| describe(&e.into())).collect();
        match &self.result {
            Ok(events) => {
                let actual: Vec<(String, Value)> = events.iter().map(describe).collect();
                assert!(
                    actual == expected,
                    "the command produced other events\n  expected: {expected:?}\n  actual:   {actual:?}"
                );
            }
            Err(err) => panic!("expected events {expected:?}, but the command failed: {err:?}"),
        }
        self
    }

    /// Asserts the command succeeded without producing events.
    #[track_caller]
    pub fn then_expect_no_events(self) -> Self {
        self.then_expect_events(std::iter::empty::<A::Event>())
    }

    /// Asserts the handler rejected the command with `expected`.
    #[track_caller]
    pub fn then_expect_error(self, expected: E) -> Self
    where
        E: PartialEq,
    {
        match &self.result {
            Err(CommandError::Rejected(actual)) => assert!(
                *actual == expected,
                "the command was rejected with another error\n  expected: {expected:?}\n  actual:   {actual:?}"
            ),
            Err(other) => panic!("expected rejection {expected:?}, got {other:?}"),
            Ok(events) => panic!(
                "expected rejection {expected:?}, but the command produced {:?}",
                events.iter().map(describe).collect::<Vec<_>>()
            ),
        }
        self
    }

    /// Asserts the command failed and `check` accepts the error.
    #[track_caller]
    pub fn then_expect_failure(self, check: impl FnOnce(&CommandError<E>) -> bool) -> Self {
        match &self.result {
            Err(err) => assert!(
                check(err),
                "the command failed with an unexpected error: {err:?}"
            ),
            Ok(events) => panic!(
                "expected a failure, but the command produced {:?}",
                events.iter().map(describe).collect::<Vec<_>>()
            ),
        }
        self
    }

    /// Asserts on the aggregate's state after the produced events.
    #[track_caller]
    pub fn then_expect_state(self, check: impl FnOnce(&A)) -> Self {
        check(&self.state);
        self
    }

    /// The raw result, for custom assertions.
    pub fn into_result(self) -> Result<(Vec<A::Event>, A), CommandError<E>> {
        let state = self.state;
        self.result.map(|events| (events, state))
    }
}

fn describe<Ev: EventSet>(event: &Ev) -> (String, Value) {
    let payload = event
        .encode()
        .ok()
        .and_then(|e| serde_json::from_str(&e.payload).ok())
        .unwrap_or(Value::Null);
    (event.name().to_owned(), payload)
}
