//! Requests a store refuses before doing anything, naming what is wrong.

use std::fmt;

/// The part of a request that is invalid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestField {
    /// The aggregate id a command or a load names.
    AggregateId,
    /// The stream id.
    StreamId,
    /// The aggregate type of the stream.
    AggregateType,
    /// An event's id.
    EventId,
    /// An event's name.
    EventName,
    /// An event's schema version.
    SchemaVersion,
    /// An event's payload.
    Payload,
    /// An event's metadata (its actor, its headers).
    Metadata,
    /// The batch as a whole (its size, say).
    Batch,
}

impl RequestField {
    /// The field's name as the API spells it.
    pub fn name(self) -> &'static str {
        match self {
            Self::AggregateId => "aggregate_id",
            Self::StreamId => "stream_id",
            Self::AggregateType => "aggregate_type",
            Self::EventId => "event_id",
            Self::EventName => "event_name",
            Self::SchemaVersion => "schema_version",
            Self::Payload => "payload",
            Self::Metadata => "metadata",
            Self::Batch => "batch",
        }
    }
}

impl fmt::Display for RequestField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a request was refused: the field at fault (when one is), the event
/// of the batch it belongs to (when it belongs to one), and the problem.
///
/// Displayed as, for example, "`payload` of event 2 of the batch is not
/// JSON: expected value at line 1 column 1".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidRequest {
    field: Option<RequestField>,
    event: Option<usize>,
    problem: String,
}

impl InvalidRequest {
    /// A refusal that concerns no one field; `problem` says it all.
    pub fn new(problem: impl Into<String>) -> Self {
        Self {
            field: None,
            event: None,
            problem: problem.into(),
        }
    }

    /// A refusal of `field`; `problem` completes a sentence whose subject is
    /// the field ("is empty", "contains a NUL character").
    pub fn of(field: RequestField, problem: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            event: None,
            problem: problem.into(),
        }
    }

    /// The same refusal, about the event at `index` (from 0) of the batch.
    pub fn at_event(mut self, index: usize) -> Self {
        self.event = Some(index);
        self
    }

    /// The field at fault, if the refusal concerns one.
    pub fn field(&self) -> Option<RequestField> {
        self.field
    }

    /// The index (from 0) of the event of the batch at fault, if any.
    pub fn event(&self) -> Option<usize> {
        self.event
    }

    /// What is wrong.
    pub fn problem(&self) -> &str {
        &self.problem
    }
}

impl fmt::Display for InvalidRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.field, self.event) {
            (Some(field), Some(event)) => write!(
                f,
                "`{field}` of event {event} of the batch {}",
                self.problem
            ),
            (Some(field), None) => write!(f, "`{field}` {}", self.problem),
            (None, Some(event)) => write!(f, "event {event} of the batch: {}", self.problem),
            (None, None) => f.write_str(&self.problem),
        }
    }
}

impl From<String> for InvalidRequest {
    fn from(problem: String) -> Self {
        Self::new(problem)
    }
}

impl From<&str> for InvalidRequest {
    fn from(problem: &str) -> Self {
        Self::new(problem)
    }
}
