//! Where a source reads, and as whom.

use std::time::Duration;

use crate::error::NatsError;
use crate::stream;

/// Where a source reads, and as whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOptions {
    /// The JetStream stream the relay writes.
    pub stream: String,
    /// The service reading: the prefix of its durable consumers' names, so
    /// two services running a projection of the same name keep apart.
    pub service: String,
    /// How long JetStream waits for an acknowledgement before it would
    /// deliver a message again (the source passes over such redeliveries).
    pub ack_wait: Duration,
    /// At most how many messages are delivered and not acknowledged.
    pub max_ack_pending: i64,
}

impl SourceOptions {
    /// Reading `stream` as `service` (letters, digits, `-`, `_`), with a
    /// five-minute ack wait.
    pub fn new(stream: &str, service: &str) -> Result<Self, NatsError> {
        stream::check_name("stream name", stream)?;
        stream::check_name("service name", service)?;
        Ok(Self {
            stream: stream.to_owned(),
            service: service.to_owned(),
            ack_wait: Duration::from_secs(300),
            max_ack_pending: 10_000,
        })
    }

    /// Sets the ack wait.
    pub fn with_ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }
}
