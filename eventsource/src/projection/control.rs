//! Control of projections across processes: requests an operator records in
//! the store, which the instance holding a projection's lease carries out.
//!
//! An operator (the admin CLI, the web console, a script) records a
//! [`ControlRequest`] with [`ControlStore::request`]; every runner watches
//! its control store (woken at once where the store can tell it, polling
//! otherwise), and the instance that holds the projection's lease carries
//! the request out after the batch it is in, then records the outcome with
//! [`ControlStore::finish`]. The operator waits for that outcome with
//! [`ControlStore::get`]. Standby instances leave requests alone: whichever
//! instance holds the lease next finds them.
//!
//! Pausing is a state, not an event: a projection is paused while the
//! latest pause or resume request recorded for it (pending or done) is a
//! pause, so an instance that takes the lease over (the owner crashed, say)
//! stays paused too.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use uuid::Uuid;

use crate::clock::Clock;
use crate::store::StoreError;

/// What an operator asks of a projection's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlCommand {
    /// Stop handling events after the current batch, keeping the lease.
    Pause,
    /// Go on handling events.
    Resume,
    /// Clear the read model (its `#[reset]` method), the checkpoint and the
    /// parked events, and replay the log.
    Rebuild,
    /// Move the checkpoint to `position` (0: the start), without clearing
    /// the read model: the events after it are handled again.
    Reset {
        /// The new checkpoint.
        position: u64,
    },
    /// Run the parked event at `position` again, or every parked event.
    Retry {
        /// The parked event; `None` for all of them.
        position: Option<u64>,
    },
}

impl ControlCommand {
    /// The command's name, as stored.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Rebuild => "rebuild",
            Self::Reset { .. } => "reset",
            Self::Retry { .. } => "retry",
        }
    }

    /// The command's argument, as stored (a position), if it has one.
    pub fn argument(&self) -> Option<u64> {
        match self {
            Self::Reset { position } => Some(*position),
            Self::Retry { position } => *position,
            _ => None,
        }
    }

    /// The command stored as `name` with `argument`.
    pub fn from_parts(name: &str, argument: Option<u64>) -> Result<Self, StoreError> {
        Ok(match (name, argument) {
            ("pause", _) => Self::Pause,
            ("resume", _) => Self::Resume,
            ("rebuild", _) => Self::Rebuild,
            ("reset", position) => Self::Reset {
                position: position.unwrap_or(0),
            },
            ("retry", position) => Self::Retry { position },
            (other, _) => {
                return Err(StoreError::invalid(format!(
                    "unknown control command `{other}` (known: pause, resume, rebuild, reset, retry)"
                )));
            }
        })
    }

    /// Whether the command sets whether the projection is paused.
    pub fn is_pause_state(&self) -> bool {
        matches!(self, Self::Pause | Self::Resume)
    }
}

impl fmt::Display for ControlCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.argument() {
            Some(position) => write!(f, "{} {position}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ControlStatus {
    /// Recorded; no owner has taken it up yet.
    Pending,
    /// The owner has taken it up and is carrying it out (a rebuild replaying).
    Running,
    /// Carried out.
    Done,
    /// The owner could not carry it out (the outcome says why).
    Failed,
    /// Withdrawn before any owner took it up.
    Cancelled,
}

impl ControlStatus {
    /// The status as stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Whether nothing more will happen to the request.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Cancelled)
    }
}

impl FromStr for ControlStatus {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "done" => Self::Done,
            "failed" => Self::Failed,
            "cancelled" => Self::Cancelled,
            other => {
                return Err(StoreError::invalid(format!(
                    "unknown control status `{other}`"
                )));
            }
        })
    }
}

impl fmt::Display for ControlStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded request and what became of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRequest {
    /// Its id.
    pub id: Uuid,
    /// The projection's slot: its name, or `name@vN` for a version above 1.
    pub projection: String,
    /// What is asked.
    pub command: ControlCommand,
    /// Who asked (free text: a user, a host), if given.
    pub requested_by: Option<String>,
    /// When it was recorded.
    pub requested_at: DateTime<Utc>,
    /// Where it stands.
    pub status: ControlStatus,
    /// The runner instance (lease owner) that took it up.
    pub handled_by: Option<Uuid>,
    /// When its status last changed after it was recorded.
    pub updated_at: Option<DateTime<Utc>>,
    /// What the owner said: why it failed, or what it did.
    pub outcome: Option<String>,
}

/// Where control requests are recorded and watched.
///
/// The in-memory implementation ([`InMemoryControlStore`]) serves one
/// process; `eventsource-postgres` keeps them in a table and wakes runners
/// of other processes with `NOTIFY`.
#[async_trait]
pub trait ControlStore: Send + Sync + 'static {
    /// Records `command` for `projection` (a slot), pending.
    async fn request(
        &self,
        projection: &str,
        command: ControlCommand,
        requested_by: Option<&str>,
    ) -> Result<ControlRequest, StoreError>;

    /// The request `id`.
    async fn get(&self, id: Uuid) -> Result<Option<ControlRequest>, StoreError>;

    /// The pending requests for `projection`, oldest first.
    async fn pending(&self, projection: &str) -> Result<Vec<ControlRequest>, StoreError>;

    /// Whether `projection` is paused: the latest pause or resume request
    /// for it that was not cancelled or failed is a pause.
    async fn paused(&self, projection: &str) -> Result<bool, StoreError>;

    /// Moves request `id` to `status` (from pending or running), taken up by
    /// `owner`, with `outcome`; `false` when it was final already (cancelled
    /// meanwhile, say).
    async fn finish(
        &self,
        id: Uuid,
        status: ControlStatus,
        owner: Uuid,
        outcome: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Cancels request `id` if no owner took it up yet; `false` otherwise.
    async fn cancel(&self, id: Uuid) -> Result<bool, StoreError>;

    /// The latest `limit` requests, for `projection` or for all, newest first.
    async fn history(
        &self,
        projection: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ControlRequest>, StoreError>;

    /// A receiver that changes when requests may have been recorded
    /// (`None`: this store cannot tell, and runners poll it).
    fn watch(&self) -> Option<watch::Receiver<u64>>;
}

/// Requests by the time they were recorded, then id.
type Requests = BTreeMap<(DateTime<Utc>, Uuid), ControlRequest>;

/// A [`ControlStore`] in memory, for the runners of one process. Cloning
/// shares it.
#[derive(Clone, Debug)]
pub struct InMemoryControlStore {
    requests: Arc<Mutex<Requests>>,
    changed: watch::Sender<u64>,
    clock: Clock,
}

impl Default for InMemoryControlStore {
    fn default() -> Self {
        Self {
            requests: Arc::default(),
            changed: watch::Sender::new(0),
            clock: Clock::current(),
        }
    }
}

impl InMemoryControlStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stamps requests with `clock`'s time.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn requests(&self) -> MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }
}

#[async_trait]
impl ControlStore for InMemoryControlStore {
    async fn request(
        &self,
        projection: &str,
        command: ControlCommand,
        requested_by: Option<&str>,
    ) -> Result<ControlRequest, StoreError> {
        let request = ControlRequest {
            id: self.clock.uuid_v7(),
            projection: projection.to_owned(),
            command,
            requested_by: requested_by.map(str::to_owned),
            requested_at: self.clock.now(),
            status: ControlStatus::Pending,
            handled_by: None,
            updated_at: None,
            outcome: None,
        };
        self.requests()
            .insert((request.requested_at, request.id), request.clone());
        self.changed();
        Ok(request)
    }

    async fn get(&self, id: Uuid) -> Result<Option<ControlRequest>, StoreError> {
        Ok(self.requests().values().find(|r| r.id == id).cloned())
    }

    async fn pending(&self, projection: &str) -> Result<Vec<ControlRequest>, StoreError> {
        Ok(self
            .requests()
            .values()
            .filter(|r| r.projection == projection && r.status == ControlStatus::Pending)
            .cloned()
            .collect())
    }

    async fn paused(&self, projection: &str) -> Result<bool, StoreError> {
        Ok(self
            .requests()
            .values()
            .rev()
            .find(|r| {
                r.projection == projection
                    && r.command.is_pause_state()
                    && matches!(r.status, ControlStatus::Pending | ControlStatus::Done)
            })
            .is_some_and(|r| r.command == ControlCommand::Pause))
    }

    async fn finish(
        &self,
        id: Uuid,
        status: ControlStatus,
        owner: Uuid,
        outcome: Option<&str>,
    ) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let changed = {
            let mut requests = self.requests();
            match requests
                .values_mut()
                .find(|r| r.id == id && !r.status.is_final())
            {
                Some(request) => {
                    request.status = status;
                    request.handled_by = Some(owner);
                    request.updated_at = Some(now);
                    request.outcome = outcome.map(str::to_owned);
                    true
                }
                None => false,
            }
        };
        if changed {
            self.changed();
        }
        Ok(changed)
    }

    async fn cancel(&self, id: Uuid) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let changed = {
            let mut requests = self.requests();
            match requests
                .values_mut()
                .find(|r| r.id == id && r.status == ControlStatus::Pending)
            {
                Some(request) => {
                    request.status = ControlStatus::Cancelled;
                    request.updated_at = Some(now);
                    true
                }
                None => false,
            }
        };
        if changed {
            self.changed();
        }
        Ok(changed)
    }

    async fn history(
        &self,
        projection: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ControlRequest>, StoreError> {
        Ok(self
            .requests()
            .values()
            .rev()
            .filter(|r| projection.is_none_or(|p| r.projection == p))
            .take(limit)
            .cloned()
            .collect())
    }

    fn watch(&self) -> Option<watch::Receiver<u64>> {
        Some(self.changed.subscribe())
    }
}
