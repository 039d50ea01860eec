//! The JetStream stream events are published to: its settings, creating it,
//! and finding positions of the global log in it.
//!
//! The relay keeps the stream in global order (see [`crate::relay`]), so a
//! position's place in the stream can be found by binary search over
//! stream sequences.

use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::context::{CreateStreamError, CreateStreamErrorKind};
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::{Config, LastRawMessageErrorKind, Stream};

use crate::error::NatsError;
use crate::headers;

/// How many missing sequences (deleted messages) a search steps over
/// before it takes the rest of a range as gone.
const PROBE: u64 = 64;

/// The JetStream stream the relay publishes to and sources read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    /// Its name.
    pub name: String,
    /// The subjects it stores (`events.>`).
    pub subjects: Vec<String>,
    /// How long JetStream remembers message ids to drop duplicates: cover
    /// the longest a relay may take to come back after a crash.
    pub duplicate_window: Duration,
    /// How long messages are kept (zero: forever).
    pub max_age: Duration,
}

impl StreamSettings {
    /// A stream named `name` storing `subjects`, with a ten-minute
    /// duplicate window, keeping messages forever. The name may hold
    /// letters, digits, `-` and `_`.
    pub fn new(name: &str, subjects: Vec<String>) -> Result<Self, NatsError> {
        check_name("stream name", name)?;
        Ok(Self {
            name: name.to_owned(),
            subjects,
            duplicate_window: Duration::from_secs(600),
            max_age: Duration::ZERO,
        })
    }

    /// Sets the duplicate window.
    pub fn with_duplicate_window(mut self, window: Duration) -> Self {
        self.duplicate_window = window;
        self
    }

    /// Sets how long messages are kept.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    fn config(&self) -> Config {
        Config {
            name: self.name.clone(),
            subjects: self.subjects.clone(),
            duplicate_window: self.duplicate_window,
            max_age: self.max_age,
            // Sources find positions by reading single messages.
            allow_direct: true,
            ..Config::default()
        }
    }
}

/// Refuses names JetStream cannot take (for streams and consumers): empty,
/// or holding anything but ASCII letters, digits, `-` and `_`.
pub(crate) fn check_name(what: &'static str, name: &str) -> Result<(), NatsError> {
    let problem = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if name.len() > 200 {
        Some("it is longer than 200 bytes".to_owned())
    } else {
        name.chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            .map(|c| format!("it holds {c:?}; use letters, digits, `-` and `_`"))
    };
    match problem {
        Some(problem) => Err(NatsError::InvalidName {
            what,
            name: name.to_owned(),
            problem,
        }),
        None => Ok(()),
    }
}

/// The stream of `settings`, created if it does not exist. An existing
/// stream is used as it is.
pub async fn ensure(
    jetstream: &jetstream::Context,
    settings: &StreamSettings,
) -> Result<Stream, NatsError> {
    jetstream
        .get_or_create_stream(settings.config())
        .await
        .map_err(|e| NatsError::jetstream(SETUP, &settings.name, e))
}

/// The operation [`ensure`] names in its errors.
const SETUP: &str = "create or look up the stream";

/// Whether a failure of [`ensure`] may pass: the server did not answer,
/// or answered with an error of its own (a status of 500 and up, such as a
/// storage directory it could not create just then). A refusal of the
/// request itself (a name or configuration it does not accept, a stream
/// that exists with another configuration) will not.
pub(crate) fn setup_may_pass(error: &NatsError) -> bool {
    let NatsError::JetStream {
        operation, source, ..
    } = error
    else {
        return false;
    };
    if *operation != SETUP {
        return false;
    }
    let Some(error) = source.downcast_ref::<CreateStreamError>() else {
        return false;
    };
    match error.kind() {
        CreateStreamErrorKind::JetStream(error) => error.code() >= 500,
        CreateStreamErrorKind::JetStreamUnavailable
        | CreateStreamErrorKind::TimedOut
        | CreateStreamErrorKind::Response => true,
        _ => false,
    }
}

/// Where the log stands in a stream: its last sequence and the position
/// of the event there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    pub(crate) sequence: u64,
    pub(crate) first_sequence: u64,
    /// `None` when the stream is empty or its last message was removed.
    pub(crate) position: Option<u64>,
}

pub(crate) async fn tail(stream: &Stream, name: &str) -> Result<Tail, NatsError> {
    let info = stream
        .get_info()
        .await
        .map_err(|e| NatsError::jetstream("read the stream's state", name, e))?;
    let sequence = info.state.last_sequence;
    let first_sequence = info.state.first_sequence;
    let position = match message_at(stream, name, sequence).await? {
        Some(message) if sequence > 0 => match headers::position(Some(&message.headers)) {
            Some(position) => Some(position),
            None => {
                return Err(NatsError::ForeignMessage {
                    stream: name.to_owned(),
                    sequence,
                    subject: message.subject.to_string(),
                });
            }
        },
        _ => None,
    };
    Ok(Tail {
        sequence,
        first_sequence,
        position,
    })
}

/// The message at `sequence`, `None` if there is none.
pub(crate) async fn message_at(
    stream: &Stream,
    name: &str,
    sequence: u64,
) -> Result<Option<StreamMessage>, NatsError> {
    if sequence == 0 {
        return Ok(None);
    }
    match stream.get_raw_message(sequence).await {
        Ok(message) => Ok(Some(message)),
        Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
        Err(error) => Err(NatsError::jetstream("read a message", name, error)),
    }
}

/// The first message at or after `sequence` and before `end` that carries
/// a position, with it, stepping over up to [`PROBE`] others.
async fn existing_from(
    stream: &Stream,
    name: &str,
    sequence: u64,
    end: u64,
) -> Result<Option<(u64, u64)>, NatsError> {
    let last = end.min(sequence.saturating_add(PROBE));
    for sequence in sequence..last {
        // A message without a readable position says nothing about where
        // the log stands: it is stepped over like a missing one.
        if let Some(message) = message_at(stream, name, sequence).await?
            && let Some(position) = headers::position(Some(&message.headers))
        {
            return Ok(Some((sequence, position)));
        }
    }
    Ok(None)
}

/// The first stream sequence holding position `from` or a later one; one
/// past the last sequence when there is none yet.
pub(crate) async fn locate(stream: &Stream, name: &str, from: u64) -> Result<u64, NatsError> {
    let tail = tail(stream, name).await?;
    let end = tail.sequence + 1;
    let mut low = tail.first_sequence.max(1);
    let mut high = end;
    // Invariant: every message before `low` is before `from`; every one
    // from `high` on is at or after it.
    while low < high {
        let middle = low + (high - low) / 2;
        match existing_from(stream, name, middle, high).await? {
            Some((sequence, position)) if position < from => low = sequence + 1,
            // Whatever sits between `middle` and the message found is gone:
            // a consumer started at a missing sequence begins at the next.
            _ => high = middle,
        }
    }
    Ok(low)
}
