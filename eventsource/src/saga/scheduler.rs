//! [`DeadlineScheduler`]: fires the deadlines that fell due, once each,
//! however many schedulers run against the same stores.
//!
//! Each round claims the due deadlines for a lease, appends one
//! [`DeadlineReached`] event per deadline to the stream of its instance
//! (the event's id is the deadline's, so a deadline fired twice, after a
//! crash between the append and the removal, is stored once), then removes
//! it. Deadlines overdue after downtime fire at the first round: late
//! rather than never.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use uuid::Uuid;

use super::deadline::{Deadline, DeadlineReached, DeadlineStore};
use crate::clock::Clock;
use crate::event::{Metadata, NewEvent};
use crate::store::{EventStore, ExpectedVersion, IntoEventStore, StoreError};

/// How many deadlines one round claims at most.
const BATCH: usize = 100;

/// Fires due deadlines into the event log.
#[derive(Clone)]
pub struct DeadlineScheduler {
    events: Arc<dyn EventStore>,
    deadlines: Arc<dyn DeadlineStore>,
    clock: Clock,
    owner: Uuid,
    poll: Duration,
    lease: Duration,
}

impl std::fmt::Debug for DeadlineScheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlineScheduler")
            .field("owner", &self.owner)
            .field("poll", &self.poll)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl DeadlineScheduler {
    /// A scheduler appending to `events` the deadlines of `deadlines`;
    /// polls every second, claims for 30 seconds.
    pub fn new(events: impl IntoEventStore, deadlines: impl DeadlineStore) -> Self {
        let clock = Clock::current();
        Self {
            events: events.into_event_store(),
            deadlines: Arc::new(deadlines),
            owner: clock.uuid_v7(),
            clock,
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(30),
        }
    }

    /// Takes time, sleeps and its id from `clock`.
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.owner = clock.uuid_v7();
        self.clock = clock;
        self
    }

    /// Looks for due deadlines every `poll`.
    #[must_use]
    pub fn with_poll(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// Holds a claimed deadline for `lease`: another scheduler may fire it
    /// after that if this one died before it was done.
    #[must_use]
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Fires the deadlines due now; returns how many.
    pub async fn fire_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let until = now
            + chrono::Duration::from_std(self.lease)
                .map_err(|_| StoreError::invalid("the deadline lease is too long"))?;
        let due = self
            .deadlines
            .claim_due(now, self.owner, until, BATCH)
            .await?;
        let count = due.len();
        for deadline in due {
            self.fire(&deadline).await?;
        }
        Ok(count)
    }

    async fn fire(&self, deadline: &Deadline) -> Result<(), StoreError> {
        let payload = serde_json::from_str(&deadline.payload).unwrap_or(serde_json::Value::Null);
        let event = DeadlineReached {
            saga: deadline.saga.clone(),
            name: deadline.name.clone(),
            due_at: deadline.due_at,
            payload,
        };
        let metadata = Metadata::new()
            .with_correlation_id(deadline.correlation_id)
            .with_causation_id(deadline.id);
        let mut new =
            NewEvent::from_event(&event, metadata).map_err(|e| StoreError::Backend(Box::new(e)))?;
        if !crate::mutation::enabled(crate::mutation::Mutation::DeadlineFiredTwice) {
            new.event_id = deadline.id;
        }
        let stream = format!("deadline-{}-{}", deadline.saga, deadline.correlation_id);
        match self
            .events
            .append(
                &stream,
                "eventsource.Deadline",
                ExpectedVersion::Any,
                vec![new],
            )
            .await
        {
            Ok(_) => {}
            // Fired before by a scheduler that died before removing it.
            Err(StoreError::DuplicateEvent { .. } | StoreError::AlreadyStored { .. }) => {}
            Err(error) => return Err(error),
        }
        self.deadlines.fired(deadline.id).await
    }

    /// Runs [`DeadlineScheduler::fire_due`] every poll interval until the
    /// task is aborted; a failed round is logged and retried next time.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(error) = self.fire_due().await {
                    tracing::warn!(%error, "firing saga deadlines failed");
                }
                self.clock.sleep(self.poll).await;
            }
        })
    }
}
