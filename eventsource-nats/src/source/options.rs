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
    /// At most how many messages are delivered and not acknowledged (-1:
    /// no limit, the default). Messages a projection passes over are
    /// acknowledged with the next one it commits, so a limit smaller than
    /// the longest run of events it does not handle would stall it.
    pub max_ack_pending: i64,
}

impl SourceOptions {
    /// Reading `stream` as `service` (letters, digits, `-`, `_`), with a
    /// five-minute ack wait and no limit on unacknowledged messages.
    pub fn new(stream: &str, service: &str) -> Result<Self, NatsError> {
        stream::check_name("stream name", stream)?;
        stream::check_name("service name", service)?;
        Ok(Self {
            stream: stream.to_owned(),
            service: service.to_owned(),
            ack_wait: Duration::from_secs(300),
            max_ack_pending: -1,
        })
    }

    /// Sets the limit of messages delivered and not acknowledged.
    pub fn with_max_ack_pending(mut self, max: i64) -> Self {
        self.max_ack_pending = max;
        self
    }

    /// Sets the ack wait.
    pub fn with_ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }
}
