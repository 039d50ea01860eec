//! The relay: follows the global log and publishes each event to JetStream.
//!
//! A relay is a projection whose read model is a JetStream stream. It
//! keeps its checkpoint and its lease in a [`ProjectionBackend`] (on
//! PostgreSQL, `PgEventStore::projection_backend`, the tables projections
//! use), under its name: of all the relays of one name, in any process,
//! one publishes, the others wait on standby and take over within the
//! lease TTL when it stops or dies.
//!
//! # Exactly once, in global order
//!
//! Each event is published with `Nats-Msg-Id` = its event id, so
//! JetStream drops a second publish of it within the stream's duplicate
//! window, and with `Nats-Expected-Last-Sequence` = the sequence the
//! event before it took. Publishes are pipelined a batch at a time; the
//! expectation chains them, so a publish that is lost (a connection
//! broken in the middle of a batch, a timeout) makes every later one of
//! the batch fail rather than be stored after the gap. The stream is
//! therefore always a prefix of the log, in global order, without gaps or
//! duplicates: in order per subject, and as a whole.
//!
//! The checkpoint is saved after the whole batch was acknowledged. On any
//! failure the relay drops the batch, waits [`RelayOptions::retry_delay`],
//! and starts again from where the stream ends: the position in the
//! stream's last message, or the checkpoint if that is further (events
//! the filter left out). A crash between an acknowledgement and the
//! checkpoint therefore republishes nothing, and a relay that lost its
//! lease while frozen (SIGSTOP) and wakes up cannot store anything: its
//! expectations no longer hold. The duplicate window is a second guard.
//!
//! The relay creates its stream when it is missing. A server that fails
//! to (an error of its own, status 500 and up, or no answer) is asked
//! again after each `retry_delay`, with the relay's status `Retrying` and
//! the error in `last_error`; one that refuses the stream's name or
//! configuration stops the relay.
//!
//! The relay owns its stream: a message it did not publish at the end of
//! it stops the relay with [`NatsError::ForeignMessage`]. A record the
//! store cannot read as an event is published as it is, with the reason in
//! an `Es-Corrupt` header; a source parks it like the store's own
//! subscribers do.

mod options;
mod publish;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use eventsource::projection::{CommitError, ProjectionBackend};
use eventsource::store::{EventStore, IntoEventStore, SubscriptionItem};
use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use options::RelayOptions;

use crate::error::NatsError;
use crate::stream;
use publish::{Outgoing, publish};

/// What a relay is doing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RelayState {
    /// Setting up, or waiting for its first lease request.
    #[default]
    Starting,
    /// Another relay of the same name holds the lease.
    Standby,
    /// Publishing (catching up, or live).
    Publishing,
    /// Failed and about to resume (the error is in `last_error`).
    Retrying,
    /// Stopped.
    Stopped,
}

/// A relay's progress.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RelayStatus {
    /// What it is doing.
    pub state: RelayState,
    /// Its checkpoint: every event up to it is in the stream.
    pub position: Option<u64>,
    /// How many events this relay published.
    pub published: u64,
    /// The last failure.
    pub last_error: Option<String>,
}

/// Publishes the global log of a store to a JetStream stream.
///
/// ```no_run
/// use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
/// use eventsource_nats::relay::{Relay, RelayOptions};
/// use eventsource_nats::stream::StreamSettings;
/// use std::time::Duration;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let client = eventsource_nats::connect("nats://127.0.0.1:4222", Duration::from_secs(5)).await?;
/// let stream = StreamSettings::new("EVENTS", vec!["events.>".into()])?;
/// let relay = Relay::new(
///     InMemoryStore::new(),
///     InMemoryProjectionBackend::new(),
///     client,
///     RelayOptions::new("events-relay", stream)?,
/// )
/// .spawn();
/// relay.wait_until(1, Duration::from_secs(5)).await?;
/// relay.stop().await?;
/// # Ok(())
/// # }
/// ```
pub struct Relay {
    store: Arc<dyn EventStore>,
    backend: Arc<dyn ProjectionBackend<()>>,
    jetstream: jetstream::Context,
    options: RelayOptions,
    owner: Uuid,
    status: watch::Sender<RelayStatus>,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("name", &self.options.name)
            .field("stream", &self.options.stream.name)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// Ends a relay's run.
type Shutdown<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// How a turn holding the lease ended, short of an error.
enum Turn {
    Stopped,
    LeaseLost,
}

impl Relay {
    /// A relay reading `store`, keeping its checkpoint and lease in
    /// `backend`, publishing through `client`. Must be called inside a
    /// Tokio runtime (the JetStream context starts a task).
    pub fn new(
        store: impl IntoEventStore,
        backend: impl ProjectionBackend<()>,
        client: async_nats::Client,
        options: RelayOptions,
    ) -> Self {
        Self {
            store: store.into_event_store(),
            backend: Arc::new(backend),
            jetstream: jetstream::new(client),
            options,
            owner: Uuid::now_v7(),
            status: watch::Sender::new(RelayStatus::default()),
        }
    }

    /// This relay's identity as a lease owner.
    pub fn owner(&self) -> Uuid {
        self.owner
    }

    /// Follows the relay's progress.
    pub fn status(&self) -> watch::Receiver<RelayStatus> {
        self.status.subscribe()
    }

    /// Runs the relay in a task of its own.
    pub fn spawn(self) -> RelayHandle {
        let (stop, mut stopped) = watch::channel(false);
        let status = self.status();
        let task = tokio::spawn(async move {
            self.run(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
        });
        RelayHandle { stop, status, task }
    }

    /// Runs the relay until `shutdown` completes (then releases the lease
    /// and returns `Ok`), or a failure retrying cannot mend: an invalid
    /// subject, a stream another publisher writes to, a stream the server
    /// refuses to create (its name or configuration). Lost connections,
    /// store failures, lost leases and the server's own errors while it
    /// sets up the stream are retried.
    pub async fn run(&self, shutdown: impl Future<Output = ()> + Send) -> Result<(), NatsError> {
        let mut shutdown: Shutdown<'_> = Box::pin(shutdown);
        let outcome = self.serve(&mut shutdown).await;
        let name = &self.options.name;
        if let Err(error) = self.backend.release(name, self.owner).await {
            tracing::warn!(relay = %name, %error, "cannot release the relay's lease");
        }
        self.status.send_modify(|s| {
            s.state = RelayState::Stopped;
            if let Err(error) = &outcome {
                s.last_error = Some(error.to_string());
            }
        });
        outcome
    }

    async fn serve(&self, shutdown: &mut Shutdown<'_>) -> Result<(), NatsError> {
        let name = &self.options.name;
        let stream = loop {
            match stream::ensure(&self.jetstream, &self.options.stream).await {
                Ok(stream) => break stream,
                Err(error) if !stream::setup_may_pass(&error) => return Err(error),
                Err(error) => {
                    tracing::warn!(relay = %name, %error, "cannot set up the stream yet; retrying");
                    if !self.pause_after(&error, shutdown).await {
                        return Ok(());
                    }
                }
            }
        };
        loop {
            if !self.hold_lease(shutdown).await? {
                return Ok(());
            }
            match self.lead(&stream, shutdown).await {
                Ok(Turn::Stopped) => return Ok(()),
                Ok(Turn::LeaseLost) => {
                    tracing::warn!(relay = %name, "lost the lease; going on standby");
                }
                Err(error) if fatal(&error) => return Err(error),
                Err(error) => {
                    tracing::warn!(relay = %name, %error, "relay failed; resuming from the stream's end");
                    if !self.pause_after(&error, shutdown).await {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Reports `error` as the reason for retrying and waits
    /// [`RelayOptions::retry_delay`]; `false` when shut down meanwhile.
    async fn pause_after(&self, error: &NatsError, shutdown: &mut Shutdown<'_>) -> bool {
        self.status.send_modify(|s| {
            s.state = RelayState::Retrying;
            s.last_error = Some(error.to_string());
        });
        tokio::select! {
            biased;
            () = &mut *shutdown => false,
            () = tokio::time::sleep(self.options.retry_delay) => true,
        }
    }

    /// Waits until this relay holds the lease (`true`) or is shut down.
    async fn hold_lease(&self, shutdown: &mut Shutdown<'_>) -> Result<bool, NatsError> {
        let options = &self.options;
        loop {
            match self
                .backend
                .acquire(&options.name, self.owner, options.lease_ttl)
                .await
            {
                Ok(true) => return Ok(true),
                Ok(false) => {
                    let position = self.backend.checkpoint(&options.name).await.ok().flatten();
                    self.status.send_modify(|s| {
                        s.state = RelayState::Standby;
                        s.position = position;
                    });
                }
                Err(error) => {
                    tracing::warn!(relay = %options.name, %error, "cannot ask for the relay's lease");
                    self.status
                        .send_modify(|s| s.last_error = Some(error.to_string()));
                }
            }
            tokio::select! {
                biased;
                () = &mut *shutdown => return Ok(false),
                () = tokio::time::sleep(options.standby_poll) => {}
            }
        }
    }

    /// Publishes while this relay holds the lease.
    async fn lead(
        &self,
        stream: &jetstream::stream::Stream,
        shutdown: &mut Shutdown<'_>,
    ) -> Result<Turn, NatsError> {
        let options = &self.options;
        let name = &options.name;
        let tail = stream::tail(stream, &options.stream.name).await?;
        let checkpoint = self.backend.checkpoint(name).await?;
        // Acknowledged before a crash, but not checkpointed.
        let mut committed = checkpoint.max(tail.position);
        if committed > checkpoint
            && let Some(position) = committed
            && !self.commit(position).await?
        {
            return Ok(Turn::LeaseLost);
        }
        let mut last_sequence = tail.sequence;
        self.status.send_modify(|s| {
            s.state = RelayState::Publishing;
            s.position = committed;
        });
        tracing::info!(relay = %name, position = ?committed, sequence = last_sequence, "publishing");
        let from = committed.map_or(1, |p| p + 1);
        let mut items = self
            .store
            .subscribe_as(name, from, options.filter.clone())
            .ready_chunks(options.batch_size);
        let period = (options.lease_ttl / 3).max(Duration::from_millis(10));
        let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tokio::select! {
                biased;
                () = &mut *shutdown => return Ok(Turn::Stopped),
                _ = renew.tick() => {
                    if !self.backend.renew(name, self.owner, options.lease_ttl).await? {
                        return Ok(Turn::LeaseLost);
                    }
                }
                chunk = items.next() => {
                    let Some(chunk) = chunk else {
                        return Err(NatsError::Store(eventsource::store::StoreError::invalid(
                            "the subscription ended",
                        )));
                    };
                    let mut batch = Vec::with_capacity(chunk.len());
                    let mut reached = committed;
                    for item in chunk {
                        match item? {
                            SubscriptionItem::Event(event) => batch.push(Outgoing::Event(event)),
                            SubscriptionItem::Corrupt(record) => batch.push(Outgoing::Corrupt(record)),
                            SubscriptionItem::CaughtUp { position } => {
                                reached = reached.max(Some(position));
                            }
                            _ => {}
                        }
                    }
                    if let Some(last) = batch.last() {
                        reached = reached.max(Some(last.position()));
                        last_sequence = publish(
                            &self.jetstream,
                            &options.stream.name,
                            &options.subjects,
                            &batch,
                            last_sequence,
                        )
                        .await?;
                    }
                    let published = batch.len() as u64;
                    if reached > committed && let Some(position) = reached {
                        if !self.commit(position).await? {
                            return Ok(Turn::LeaseLost);
                        }
                        committed = reached;
                    }
                    self.status.send_modify(|s| {
                        s.position = committed;
                        s.published += published;
                    });
                }
            }
        }
    }

    /// Saves the checkpoint; `false` if the lease was lost.
    async fn commit(&self, position: u64) -> Result<bool, NatsError> {
        let options = &self.options;
        let tx = self.backend.begin(options.lease_ttl).await?;
        match tx.commit(&options.name, self.owner, Some(position)).await {
            Ok(()) => Ok(true),
            Err(CommitError::LeaseLost) => Ok(false),
            Err(CommitError::Store(error)) => Err(error.into()),
            Err(other) => Err(NatsError::Store(eventsource::store::StoreError::Backend(
                Box::new(other),
            ))),
        }
    }
}

/// Failures retrying cannot mend.
fn fatal(error: &NatsError) -> bool {
    matches!(
        error,
        NatsError::Subject { .. }
            | NatsError::ForeignMessage { .. }
            | NatsError::InvalidName { .. }
    )
}

/// A relay running in a task: its status, and the way to stop it.
#[derive(Debug)]
pub struct RelayHandle {
    stop: watch::Sender<bool>,
    status: watch::Receiver<RelayStatus>,
    task: JoinHandle<Result<(), NatsError>>,
}

impl RelayHandle {
    /// The relay's status now.
    pub fn status(&self) -> RelayStatus {
        self.status.borrow().clone()
    }

    /// Waits until the relay's checkpoint reaches `position` (every event
    /// up to it is in the stream), or `timeout` passes: then
    /// [`RelayWaitError::Timeout`] says where it was.
    pub async fn wait_until(&self, position: u64, timeout: Duration) -> Result<(), RelayWaitError> {
        let mut status = self.status.clone();
        let reached = tokio::time::timeout(
            timeout,
            status.wait_for(|s| {
                s.position.is_some_and(|p| p >= position) || s.state == RelayState::Stopped
            }),
        )
        .await;
        let now = self.status();
        match reached {
            Ok(Ok(_)) if now.position.is_some_and(|p| p >= position) => Ok(()),
            Ok(_) => Err(RelayWaitError::Stopped(now)),
            Err(_) => Err(RelayWaitError::Timeout {
                position,
                status: now,
            }),
        }
    }

    /// Stops the relay (releasing its lease) and returns how its run ended.
    pub async fn stop(self) -> Result<(), NatsError> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok(outcome) => outcome,
            Err(error) => Err(NatsError::Store(eventsource::store::StoreError::Backend(
                Box::new(error),
            ))),
        }
    }
}

/// Why [`RelayHandle::wait_until`] returned without the position.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayWaitError {
    /// The time ran out.
    #[error("the relay did not reach position {position} in time: {status:?}")]
    Timeout {
        /// The position waited for.
        position: u64,
        /// Where the relay was.
        status: RelayStatus,
    },
    /// The relay stopped.
    #[error("the relay stopped: {0:?}")]
    Stopped(RelayStatus),
}
