//! What can go wrong between the relay or the source and JetStream.

use eventsource::BoxError;
use eventsource::store::StoreError;
use thiserror::Error;

use crate::subject::SubjectError;

/// An error of the relay, the source, or setting them up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The NATS server cannot be reached.
    #[error(
        "cannot reach the NATS server at {url}: {source}. Start one with JetStream enabled \
         (`nats-server -js`; on Debian and Ubuntu `apt-get install nats-server`), or point \
         NATS_URL at one"
    )]
    Unreachable {
        /// The address tried.
        url: String,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// A JetStream request failed (the server is there, but refused or
    /// did not answer).
    #[error("JetStream could not {operation} (stream `{stream}`): {source}")]
    JetStream {
        /// What was asked.
        operation: &'static str,
        /// The JetStream stream.
        stream: String,
        /// Why it failed.
        #[source]
        source: BoxError,
    },
    /// A name given in the options cannot be used.
    #[error("invalid {what} `{name}`: {problem}")]
    InvalidName {
        /// Which name (`stream name`, `relay name`, ...).
        what: &'static str,
        /// The name.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An event's subject is invalid: a custom subject scheme returned
    /// one the relay refuses.
    #[error("the event at position {position} has no valid subject: {source}")]
    Subject {
        /// The event's global position.
        position: u64,
        /// What is wrong with the subject.
        #[source]
        source: SubjectError,
    },
    /// The JetStream stream's last message was not published by a relay
    /// (no position header): something else publishes to the stream, so
    /// the relay cannot tell where the log stands in it.
    #[error(
        "stream `{stream}` ends with a message the relay did not publish (sequence {sequence}, \
         subject `{subject}`): give the relay a stream of its own"
    )]
    ForeignMessage {
        /// The JetStream stream.
        stream: String,
        /// The message's stream sequence.
        sequence: u64,
        /// Its subject.
        subject: String,
    },
    /// The event store, or the backend keeping the relay's checkpoint and
    /// lease, failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NatsError {
    pub(crate) fn jetstream(
        operation: &'static str,
        stream: &str,
        source: impl Into<BoxError>,
    ) -> Self {
        Self::JetStream {
            operation,
            stream: stream.to_owned(),
            source: source.into(),
        }
    }

    /// This error as a store error, for the [`EventStore`] the source
    /// implements: a failure of the connection to the server, which the
    /// projection runner answers by resubscribing from its checkpoint.
    ///
    /// [`EventStore`]: eventsource::store::EventStore
    pub fn into_store_error(self) -> StoreError {
        match self {
            Self::Store(error) => error,
            other => StoreError::Connection(Box::new(other)),
        }
    }
}
