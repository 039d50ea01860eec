//! How a relay is set up.

use std::time::Duration;

use eventsource::store::EventFilter;

use crate::error::NatsError;
use crate::stream::{StreamSettings, check_name};
use crate::subject::SubjectScheme;

/// A relay's name, stream, subjects and pacing.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// The relay's name: the key of its checkpoint and lease in the
    /// projection backend, so one relay of each name is active.
    pub name: String,
    /// The stream it publishes to, created if missing.
    pub stream: StreamSettings,
    /// The subject of each event.
    pub subjects: SubjectScheme,
    /// Which events it publishes (all by default).
    pub filter: EventFilter,
    /// At most how many events are published before their
    /// acknowledgements are awaited and the checkpoint saved.
    pub batch_size: usize,
    /// How long the lease lasts without renewal; renewed every third of it.
    pub lease_ttl: Duration,
    /// How often a relay on standby asks for the lease.
    pub standby_poll: Duration,
    /// How long it waits after a failure before it resumes from the stream
    /// and the checkpoint.
    pub retry_delay: Duration,
}

impl RelayOptions {
    /// A relay named `name` (letters, digits, `-`, `_` and `.`) publishing
    /// every event to `stream` under the default subjects
    /// (`events.{aggregate_type}.{stream_id}`), 256 at a time, with a
    /// ten-second lease.
    pub fn new(name: &str, stream: StreamSettings) -> Result<Self, NatsError> {
        // Dots are fine in a checkpoint name; JetStream never sees it.
        check_name("relay name", &name.replace('.', "_"))?;
        Ok(Self {
            name: name.to_owned(),
            stream,
            subjects: SubjectScheme::default(),
            filter: EventFilter::all(),
            batch_size: 256,
            lease_ttl: Duration::from_secs(10),
            standby_poll: Duration::from_secs(1),
            retry_delay: Duration::from_millis(500),
        })
    }

    /// Sets the subject scheme.
    pub fn with_subjects(mut self, subjects: SubjectScheme) -> Self {
        self.subjects = subjects;
        self
    }

    /// Publishes only the events `filter` passes.
    pub fn with_filter(mut self, filter: EventFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Sets the batch size (at least 1).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Sets the lease TTL.
    pub fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets the standby poll interval.
    pub fn with_standby_poll(mut self, poll: Duration) -> Self {
        self.standby_poll = poll;
        self
    }

    /// Sets the delay after a failure.
    pub fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }
}
