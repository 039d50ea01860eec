//! The projection runner: hosts projections, each in its own task.

mod committed;
mod forward;
mod lease;
mod messages;
mod options;
mod partition_rebuild;
mod partitions;
mod rebuild;
mod settle;
mod status;
mod versions;
mod worker;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;
use uuid::Uuid;

use super::control::{ControlStore, InMemoryControlStore};
use super::{DeadLetterStore, ParkedEvent, Projection, ProjectionBackend, RunnerError};
use crate::clock::Clock;
use crate::error::Error;
use crate::memory::InMemoryDeadLetterStore;
use crate::projection::interceptor::EventInterceptors;
use crate::registry::Registry;
use crate::store::{EventFilter, EventStore, IntoEventStore};

pub use committed::CommittedPosition;
pub use options::{InvalidOptions, RunnerOptions};
pub use partitions::partition_slot;
pub(crate) use partitions::recorded as recorded_partitions;
pub use settle::{Pending, SettleError, Settled};
pub use status::{PartitionStatus, ProjectionState, ProjectionStatus, RebuildProgress};
pub use versions::slot;

use crate::store::PartitionFilter;
use messages::{Control, Siblings};
use partitions::{Member, Membership, Share, Shared};
use status::Published;
use worker::Worker;

/// Runs projections against an event store: catch-up from each checkpoint,
/// then live, with retries, parking, rebuilds and status.
///
/// Each projection gets its own task and subscription, filtered to the
/// events it handles. Several instances of a program may run the same
/// projections: a lease in the projection's backend lets only one process
/// each projection at a time, and another takes over when it stops.
///
/// ```
/// use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
/// use eventsource::prelude::*;
/// use eventsource::projection::ProjectionRunner;
/// use serde::{Deserialize, Serialize};
/// use std::time::Duration;
///
/// #[derive(Event, Serialize, Deserialize, Debug)]
/// #[event(name = "docs.Visited")]
/// struct Visited { page: String }
///
/// #[derive(Default)]
/// struct PageViews { total: u64 }
///
/// #[projection(name = "docs.page_views")]
/// impl PageViews {
///     async fn on_visited(&mut self, _e: &Visited) {
///         self.total += 1;
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = InMemoryStore::new();
/// let runner = ProjectionRunner::new(store.clone())?;
/// runner.start(PageViews::default(), InMemoryProjectionBackend::new()).await?;
///
/// let event = NewEvent::from_event(&Visited { page: "/".into() }, Metadata::new())?;
/// let written = store.append("site-1", "docs.Site", ExpectedVersion::Any, vec![event]).await?;
/// runner.wait_until("docs.page_views", written.last_position, Duration::from_secs(5)).await?;
/// let status = runner.status("docs.page_views").await?;
/// assert_eq!(status.processed, 1);
/// runner.shutdown().await;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct ProjectionRunner {
    store: Arc<dyn EventStore>,
    dead_letters: Arc<dyn DeadLetterStore>,
    requests: Arc<dyn ControlStore>,
    options: RunnerOptions,
    owner: Uuid,
    clock: Clock,
    /// By name and version; ordered, so that stopping them all goes in the
    /// same order every run.
    workers: Mutex<BTreeMap<(&'static str, u32), Handle>>,
    /// Run around each event of every projection started afterwards.
    interceptors: EventInterceptors,
}

struct Handle {
    version: u32,
    /// The version's status: its one worker's, or the partitions' folded.
    status: watch::Receiver<Published>,
    /// Whether the projection has a `#[reset]` method, without which it
    /// cannot be rebuilt.
    resets: bool,
    /// One worker, or one per partition.
    parts: Vec<Part>,
    /// The runner's heartbeat as a member of a partitioned projection.
    member: Option<Member>,
    /// Folds the partitions' statuses into `status`.
    fold: Option<JoinHandle<()>>,
}

/// The worker of a projection version, or of one of its partitions.
struct Part {
    partition: Option<PartitionFilter>,
    slot: Arc<str>,
    control: mpsc::Sender<Control>,
    status: watch::Receiver<Published>,
    filter: EventFilter,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for ProjectionRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("owner", &self.owner)
            .field("options", &self.options)
            .field("projections", &self.workers().keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl ProjectionRunner {
    /// A runner reading `store`, after checking the registry. Parked events
    /// go to an in-memory dead-letter store unless another is set.
    pub fn new(store: impl IntoEventStore) -> Result<Self, Error> {
        Registry::global().validate().map_err(Box::new)?;
        let clock = Clock::current();
        Ok(Self {
            store: store.into_event_store(),
            dead_letters: Arc::new(InMemoryDeadLetterStore::new()),
            requests: Arc::new(InMemoryControlStore::new()),
            options: RunnerOptions::default(),
            owner: clock.uuid_v7(),
            clock,
            workers: Mutex::default(),
            interceptors: Arc::default(),
        })
    }

    /// Parks failing events in `dead_letters`.
    pub fn with_dead_letters(mut self, dead_letters: impl DeadLetterStore) -> Self {
        self.dead_letters = Arc::new(dead_letters);
        self
    }

    /// Watches `store` for control requests (pause, resume, rebuild, reset,
    /// retry of parked events) for the projections started afterwards: the
    /// instance holding a projection's lease carries them out. By default
    /// the runner has an [`InMemoryControlStore`] of its own
    /// ([`ProjectionRunner::control`]); give it a shared one (on PostgreSQL,
    /// the store's) to be controlled from other processes.
    pub fn with_control(mut self, store: impl ControlStore) -> Self {
        self.requests = Arc::new(store);
        self
    }

    /// Like [`ProjectionRunner::with_control`], with a shared store.
    pub fn with_shared_control(mut self, store: Arc<dyn ControlStore>) -> Self {
        self.requests = store;
        self
    }

    /// The store this runner takes control requests from.
    pub fn control(&self) -> &Arc<dyn ControlStore> {
        &self.requests
    }

    /// Runs `interceptor` around each event of the projections and sagas
    /// started afterwards, after those added before it: see
    /// [`EventInterceptor`](crate::projection::EventInterceptor).
    pub fn with_event_interceptor(
        mut self,
        interceptor: impl crate::projection::EventInterceptor,
    ) -> Self {
        Arc::make_mut(&mut self.interceptors).push(Arc::new(interceptor));
        self
    }

    /// Sets batching, retry and lease options for projections started
    /// afterwards; [`ProjectionRunner::start`] rejects invalid ones (see
    /// [`RunnerOptions::validate`]).
    pub fn with_options(mut self, options: RunnerOptions) -> Self {
        self.options = options;
        self
    }

    /// Takes sleeps, timers, timestamps and the runner's identity from
    /// `clock` (by default the ambient clock when the runner was built: see
    /// [`Clock::current`]); the identity is drawn again from it.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.owner = clock.uuid_v7();
        self.clock = clock;
        self
    }

    /// This runner's identity as a lease owner.
    pub fn owner(&self) -> Uuid {
        self.owner
    }

    /// The dead-letter store.
    pub fn dead_letters(&self) -> &Arc<dyn DeadLetterStore> {
        &self.dead_letters
    }

    fn workers(&self) -> MutexGuard<'_, BTreeMap<(&'static str, u32), Handle>> {
        self.workers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts `projection`, committing through `backend`. Must be called
    /// inside a Tokio runtime.
    ///
    /// First records the projection's version and events with the backend
    /// and refuses, with [`RunnerError::Fingerprint`], a version the store
    /// knows with other events (another program under the same name). When
    /// no version is active yet, this one becomes active at once; when an
    /// older one is, this one catches up in the background and takes over
    /// once it is live; when a newer one is, this one retires. Fails too if
    /// the runner's options are invalid or this version already runs here.
    pub async fn start<P, B>(&self, projection: P, backend: B) -> Result<(), RunnerError>
    where
        P: Projection,
        B: ProjectionBackend<P::Context>,
    {
        self.options.validate()?;
        if P::VERSION == 0 {
            return Err(RunnerError::VersionZero(P::NAME.to_owned()));
        }
        if self.workers().contains_key(&(P::NAME, P::VERSION)) {
            return Err(RunnerError::AlreadyRunning(P::NAME.to_owned()));
        }
        let partitions = P::PARTITIONS;
        if partitions == 0 || partitions > crate::store::BUCKETS {
            return Err(RunnerError::InvalidPartitions {
                name: P::NAME.to_owned(),
                source: crate::store::InvalidPartition::Count(partitions),
            });
        }
        let mut ours = versions::fingerprint(P::EVENTS);
        ours.extend(partitions::marker(partitions));
        ours.sort_unstable();
        let registered = backend.register(P::NAME, P::VERSION, &ours).await?;
        if registered.events != ours {
            let (recorded, recorded_events) = partitions::recorded(&registered.events);
            let (_, our_events) = partitions::recorded(&ours);
            if recorded != partitions && recorded_events == our_events {
                return Err(RunnerError::PartitionsChanged {
                    name: P::NAME.to_owned(),
                    version: P::VERSION,
                    recorded,
                    ours: partitions,
                });
            }
            return Err(RunnerError::Fingerprint {
                name: P::NAME.to_owned(),
                version: P::VERSION,
                recorded: registered.events,
                ours,
            });
        }
        let active = match registered.active {
            Some(active) => active,
            // The first version the store sees serves at once.
            None => backend.activate(P::NAME, P::VERSION).await?,
        };
        let slot: Arc<str> = versions::slot(P::NAME, P::VERSION).into();
        let backend: Arc<dyn ProjectionBackend<P::Context>> = Arc::new(backend);
        let (member, share) = if partitions > 1 {
            // Known before the workers ask for leases, so a runner joining
            // others does not grab every partition it finds free first.
            let live = backend
                .heartbeat(&slot, self.owner, self.options.lease_ttl)
                .await?;
            let share = Arc::new(Share::new(partitions, live));
            let member = Member::start(Membership {
                backend: backend.clone(),
                slot: slot.clone(),
                owner: self.owner,
                ttl: self.options.lease_ttl,
                period: self.options.membership_period(),
                clock: self.clock.clone(),
                share: share.clone(),
            });
            (Some(member), Some(share))
        } else {
            (None, None)
        };
        let started = self.workers().contains_key(&(P::NAME, P::VERSION));
        if started {
            if let Some(member) = member {
                member.stop().await;
            }
            return Err(RunnerError::AlreadyRunning(P::NAME.to_owned()));
        }
        // No await from here on: the map stays locked until the insert.
        let mut workers = self.workers();
        let filter = filter_for(P::EVENTS);
        let mut parts = Vec::new();
        match share {
            None => parts.push(self.spawn(projection, backend, &slot, &filter, None, active)),
            Some(share) => {
                let shared = Arc::new(tokio::sync::Mutex::new(projection));
                let turn = Arc::new(tokio::sync::Mutex::new(()));
                let siblings: Siblings = Arc::default();
                for index in 0..partitions {
                    let partition = PartitionFilter::new(index, partitions).map_err(|source| {
                        RunnerError::InvalidPartitions {
                            name: P::NAME.to_owned(),
                            source,
                        }
                    })?;
                    parts.push(self.spawn(
                        Shared(shared.clone()),
                        backend.clone(),
                        &slot,
                        &filter,
                        Some((
                            partition,
                            share.clone(),
                            turn.clone(),
                            // Partition 0's holder carries out the rebuilds
                            // operators request for the whole version.
                            (index == 0).then(|| siblings.clone()),
                        )),
                        active,
                    ));
                }
                let _ = siblings.set(parts.iter().map(|p| p.control.downgrade()).collect());
            }
        }
        let (status, fold) = if parts.len() == 1 {
            (parts[0].status.clone(), None)
        } else {
            let statuses: Vec<_> = parts.iter().map(|p| p.status.clone()).collect();
            let (out, status) = watch::channel(Published {
                active: Some(active),
                ..Published::default()
            });
            (status, Some(tokio::spawn(partitions::fold(statuses, out))))
        };
        workers.insert(
            (P::NAME, P::VERSION),
            Handle {
                version: P::VERSION,
                status,
                resets: P::RESETS,
                parts,
                member,
                fold,
            },
        );
        Ok(())
    }

    /// Spawns the worker of `projection`, or of one of its partitions.
    fn spawn<Q: Projection>(
        &self,
        projection: Q,
        backend: Arc<dyn ProjectionBackend<Q::Context>>,
        slot: &Arc<str>,
        filter: &EventFilter,
        partition: Option<PartitionOf>,
        active: u32,
    ) -> Part {
        let (slot, filter) = match &partition {
            Some((partition, _, _, _)) => (
                Arc::from(partition_slot(slot, *partition)),
                filter.clone().with_partition(*partition),
            ),
            None => (slot.clone(), filter.clone()),
        };
        let (control, control_rx) = mpsc::channel(8);
        let (status_tx, status) = watch::channel(Published {
            active: Some(active),
            ..Published::default()
        });
        let worker = Worker {
            projection,
            backend,
            store: self.store.clone(),
            dead_letters: self.dead_letters.clone(),
            options: self.options,
            owner: self.owner,
            filter: filter.clone(),
            status: status_tx,
            control: control_rx,
            committed: None,
            lease: None,
            rebuild: None,
            clock: self.clock.clone(),
            slot: slot.clone(),
            active: Some(active),
            requests: self.requests.clone(),
            requests_changed: self.requests.watch(),
            paused: false,
            interceptors: self.interceptors.clone(),
            share: partition
                .as_ref()
                .map(|(partition, share, _, _)| (partition.index(), share.clone())),
            turn: partition.as_ref().map(|(_, _, turn, _)| turn.clone()),
            siblings: partition
                .as_ref()
                .and_then(|(_, _, _, siblings)| siblings.clone()),
        };
        let span = match &partition {
            Some((partition, _, _, _)) => tracing::info_span!(
                "eventsource.projection",
                projection = Q::NAME,
                version = Q::VERSION,
                partition = %partition
            ),
            None => tracing::info_span!(
                "eventsource.projection",
                projection = Q::NAME,
                version = Q::VERSION
            ),
        };
        let task = tokio::spawn(worker.run().instrument(span));
        Part {
            partition: partition.map(|(partition, _, _, _)| partition),
            slot,
            control,
            status,
            filter,
            task,
        }
    }

    /// Starts `projection` from scratch, rebuilding its read model in place
    /// under this program's events: forgets what the store recorded of its
    /// version, starts it, and rebuilds it (its `#[reset]` method clears the
    /// read model; the checkpoint and parked events go too). Returns once it
    /// is live.
    ///
    /// For a projection that [`ProjectionRunner::start`] refused with
    /// [`RunnerError::Fingerprint`] although its read model is the same:
    /// when the read model changed, bump the version instead, so that the
    /// old one serves while the new one is built.
    pub async fn start_fresh<P, B>(
        &self,
        projection: P,
        backend: B,
    ) -> Result<RebuildProgress, RunnerError>
    where
        P: Projection,
        B: ProjectionBackend<P::Context>,
    {
        if !P::RESETS {
            return Err(RunnerError::NoReset(P::NAME.to_owned()));
        }
        backend.forget(P::NAME, P::VERSION).await?;
        self.start(projection, backend).await?;
        self.rebuild(P::NAME, |_| {}).await
    }

    fn handle_status(&self, name: &str) -> Result<watch::Receiver<Published>, RunnerError> {
        self.newest(name, |h| h.status.clone())
    }

    /// The control channels of the newest version of `name` (one per partition).
    fn controls(&self, name: &str) -> Result<Vec<mpsc::Sender<Control>>, RunnerError> {
        self.newest(name, |h| {
            h.parts.iter().map(|p| p.control.clone()).collect()
        })
    }

    /// `read` of the newest version of `name` started here.
    fn newest<T>(&self, name: &str, read: impl FnOnce(&Handle) -> T) -> Result<T, RunnerError> {
        let workers = self.workers();
        workers
            .iter()
            .rev()
            .find(|((n, _), _)| *n == name)
            .map(|(_, handle)| read(handle))
            .ok_or_else(|| RunnerError::UnknownProjection(name.to_owned()))
    }

    /// The names of the projections started in this runner.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.workers().keys().map(|(name, _)| *name).collect();
        names.dedup();
        names
    }

    /// The status of projection `name` (of its newest version started here):
    /// state, version and active version, checkpoint, lag, parked events.
    pub async fn status(&self, name: &str) -> Result<ProjectionStatus, RunnerError> {
        let version = self.newest(name, |h| h.version)?;
        self.status_of(name, version).await
    }

    /// The status of every version of projection `name` started here, oldest
    /// first: during a version change, the old one serving and the new one
    /// catching up.
    pub async fn statuses(&self, name: &str) -> Result<Vec<ProjectionStatus>, RunnerError> {
        let versions: Vec<u32> = self
            .workers()
            .keys()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| *v)
            .collect();
        if versions.is_empty() {
            return Err(RunnerError::UnknownProjection(name.to_owned()));
        }
        let mut statuses = Vec::with_capacity(versions.len());
        for version in versions {
            statuses.push(self.status_of(name, version).await?);
        }
        Ok(statuses)
    }

    async fn status_of(&self, name: &str, version: u32) -> Result<ProjectionStatus, RunnerError> {
        let (status, parts) = self
            .workers()
            .iter()
            .find(|((n, v), _)| *n == name && *v == version)
            .map(|(_, h)| (h.status.clone(), parts_of(h)))
            .ok_or_else(|| RunnerError::UnknownProjection(name.to_owned()))?;
        let published = status.borrow().clone();
        let head = self.store.head_position().await?;
        let (mut lag, mut parked) = (0, 0);
        // Each partition from its own checkpoint, counting its own events.
        for (_, slot, filter, status) in parts {
            let from = status.borrow().position.map_or(1, |p| p + 1);
            lag += self.store.count_events(from, filter).await?;
            parked += self.dead_letters.count(&slot).await?;
        }
        Ok(ProjectionStatus {
            name: name.to_owned(),
            version,
            active_version: published.active,
            state: published.state,
            position: published.position,
            head,
            lag,
            parked,
            processed: published.processed,
            last_error: published.last_error,
        })
    }

    /// The partitions of projection `name` (its newest version started
    /// here), in order: who holds each (this runner or not), its
    /// checkpoint, lag and parked events. One entry, partition 0 of 1, for
    /// a projection that is not partitioned.
    pub async fn partitions(&self, name: &str) -> Result<Vec<PartitionStatus>, RunnerError> {
        let parts = self.newest(name, parts_of)?;
        let mut statuses = Vec::with_capacity(parts.len());
        for (partition, slot, filter, status) in parts {
            let published = status.borrow().clone();
            let from = published.position.map_or(1, |p| p + 1);
            statuses.push(PartitionStatus {
                index: partition.map_or(0, |p| p.index()),
                count: partition.map_or(1, |p| p.count()),
                lag: self.store.count_events(from, filter).await?,
                parked: self.dead_letters.count(&slot).await?,
                slot: slot.to_string(),
                state: published.state,
                owner: published.owner,
                position: published.position,
                processed: published.processed,
            });
        }
        Ok(statuses)
    }

    /// Waits until projection `name` has processed every event up to
    /// `position` (read-your-writes), or `timeout` passes.
    pub async fn wait_until(
        &self,
        name: &str,
        position: u64,
        timeout: Duration,
    ) -> Result<(), RunnerError> {
        let mut status = self.handle_status(name)?;
        let reached = self
            .clock
            .timeout(
                timeout,
                status.wait_for(|s| s.position.is_some_and(|p| p >= position)),
            )
            .await
            .map(|waited| waited.is_ok());
        match reached {
            Ok(true) => Ok(()),
            Ok(false) => Err(RunnerError::Stopped(name.to_owned())),
            Err(_) => Err(RunnerError::Timeout {
                name: name.to_owned(),
                position,
                reached: status.borrow().position,
            }),
        }
    }

    /// Waits until every projection and saga started in this runner has
    /// processed the log up to `position` and, after it, up to the head as
    /// it then stands, round after round until the head stops moving: the
    /// events of commands sagas dispatched because of events up to
    /// `position` are processed too (other writes made meanwhile are waited
    /// for as well). Retired versions are not waited for.
    ///
    /// After `timeout`, fails with [`SettleError::Timeout`] naming each
    /// projection still behind, where it was and in what state (paused,
    /// on standby, failing).
    pub async fn settle(&self, position: u64, timeout: Duration) -> Result<Settled, SettleError> {
        let watched = || -> settle::Watched {
            self.workers()
                .iter()
                .map(|((name, version), handle)| (*name, *version, handle.status.clone()))
                .collect()
        };
        settle::settle(watched, &*self.store, &self.clock, position, timeout).await
    }

    /// Follows the committed position of projection `name`: what a read
    /// model kept by it may have changed with.
    pub fn committed(&self, name: &str) -> Result<CommittedPosition, RunnerError> {
        let status = self.handle_status(name)?;
        Ok(CommittedPosition::new(status))
    }

    /// Resets projection `name` (its read model through its `#[reset]`
    /// method, its checkpoint and its parked events) and replays the log from
    /// the start, reporting progress to `on_progress` and through `tracing`.
    /// Returns when the replay reached the head; the projection then goes live.
    ///
    /// A projection without a `#[reset]` method is refused with
    /// [`RunnerError::NoReset`] and left as it was: replaying onto a read
    /// model nothing cleared would apply every event twice. If the reset
    /// fails ([`RunnerError::Reset`]) the checkpoint is kept and the
    /// projection goes on from it; a transactional reset was rolled back,
    /// while whatever a non-transactional one did before failing stays done.
    ///
    /// A partitioned projection is rebuilt likewise, its read model reset
    /// once and every partition replayed from the start, with the progress
    /// summed over them; only when this runner holds every partition
    /// (otherwise [`RunnerError::PartitionsNotHeld`], with nothing reset).
    /// Each partition's worker first stops between units of work; once the
    /// read model is reset the others reset their checkpoints, so no event
    /// is applied to the cleared read model before its replay.
    pub async fn rebuild(
        &self,
        name: &str,
        on_progress: impl Fn(&RebuildProgress) + Send + Sync + 'static,
    ) -> Result<RebuildProgress, RunnerError> {
        let (controls, resets, owners) = self.newest(name, |h| {
            let controls: Vec<_> = h.parts.iter().map(|p| p.control.clone()).collect();
            let owners: Vec<_> = h.parts.iter().map(|p| p.status.borrow().owner).collect();
            (controls, h.resets, owners)
        })?;
        if !resets {
            return Err(RunnerError::NoReset(name.to_owned()));
        }
        let [control] = &controls[..] else {
            let held = owners.iter().filter(|o| **o == Some(self.owner)).count();
            let count = owners.len();
            if held < count {
                return Err(RunnerError::PartitionsNotHeld {
                    name: name.to_owned(),
                    held: u32::try_from(held).unwrap_or(u32::MAX),
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                });
            }
            // In a task of its own: a caller giving up half-way must not
            // leave some partitions reset and others not.
            let owned = name.to_owned();
            let clock = self.clock.clone();
            let within = self.options.lease_ttl;
            let task = tokio::spawn(async move {
                partition_rebuild::rebuild(&owned, controls, &clock, within, Box::new(on_progress))
                    .await
            });
            return task
                .await
                .unwrap_or_else(|_| Err(RunnerError::Stopped(name.to_owned())));
        };
        let (reply, answer) = oneshot::channel();
        control
            .send(Control::Rebuild {
                progress: Box::new(on_progress),
                reply,
            })
            .await
            .map_err(|_| RunnerError::Stopped(name.to_owned()))?;
        answer
            .await
            .map_err(|_| RunnerError::Stopped(name.to_owned()))?
    }

    /// The events parked for projection `name` (its newest version here;
    /// of every partition of a partitioned one, by position).
    pub async fn parked(&self, name: &str) -> Result<Vec<ParkedEvent>, RunnerError> {
        let slots: Vec<Arc<str>> =
            self.newest(name, |h| h.parts.iter().map(|p| p.slot.clone()).collect())?;
        let mut parked = Vec::new();
        for slot in slots {
            parked.extend(self.dead_letters.list(&slot).await?);
        }
        parked.sort_by_key(|p| p.global_position);
        Ok(parked)
    }

    /// Runs projection `name` on its parked event at `position` again; on
    /// success the event leaves the dead-letter store.
    pub async fn retry_parked(&self, name: &str, position: u64) -> Result<(), RunnerError> {
        // The partition the event is parked in answers; the others have
        // no such parked event (or, on standby, are not its holder).
        let mut outcome = Err(RunnerError::NotParked {
            name: name.to_owned(),
            position,
        });
        for control in self.controls(name)? {
            let (reply, answer) = oneshot::channel();
            control
                .send(Control::RetryParked { position, reply })
                .await
                .map_err(|_| RunnerError::Stopped(name.to_owned()))?;
            let answered = answer
                .await
                .map_err(|_| RunnerError::Stopped(name.to_owned()))?;
            match answered {
                Err(RunnerError::NotParked { .. }) => {}
                Err(RunnerError::NotOwner(_)) => {
                    outcome = Err(RunnerError::NotOwner(name.to_owned()))
                }
                done => return done,
            }
        }
        outcome
    }

    /// Stops projection `name` (every version of it started here) and
    /// releases its leases.
    pub async fn stop(&self, name: &str) -> Result<(), RunnerError> {
        let handles: Vec<Handle> = {
            let mut workers = self.workers();
            let keys: Vec<_> = workers
                .keys()
                .filter(|(n, _)| *n == name)
                .copied()
                .collect();
            keys.iter().filter_map(|key| workers.remove(key)).collect()
        };
        if handles.is_empty() {
            return Err(RunnerError::UnknownProjection(name.to_owned()));
        }
        for handle in handles {
            stop(handle).await;
        }
        Ok(())
    }

    /// Ends every projection at once, wherever each one is waiting, as a
    /// killed process would: no batch is finished, nothing is rolled back
    /// by the runner and no lease is released (each lapses after its TTL,
    /// and another instance takes over from the checkpoint). For crash
    /// tests and the simulation; [`ProjectionRunner::shutdown`] stops
    /// cleanly.
    pub fn abort(&self) {
        let handles: Vec<Handle> = std::mem::take(&mut *self.workers()).into_values().collect();
        for handle in handles {
            for part in handle.parts {
                part.task.abort();
            }
            if let Some(member) = handle.member {
                member.abort();
            }
            if let Some(fold) = handle.fold {
                fold.abort();
            }
        }
    }

    /// Stops every projection and releases their leases.
    pub async fn shutdown(&self) {
        let handles: Vec<Handle> = std::mem::take(&mut *self.workers()).into_values().collect();
        for handle in handles {
            stop(handle).await;
        }
    }
}

async fn stop(handle: Handle) {
    for part in &handle.parts {
        let _ = part.control.send(Control::Stop).await;
    }
    for part in handle.parts {
        if let Err(error) = part.task.await {
            tracing::warn!(%error, "a projection task ended abnormally");
        }
    }
    // After the workers released their leases: the others take them over
    // as soon as they see this runner gone.
    if let Some(member) = handle.member {
        member.stop().await;
    }
    if let Some(fold) = handle.fold
        && let Err(error) = fold.await
    {
        tracing::warn!(%error, "a projection's status task ended abnormally");
    }
}

/// The partition a worker processes, the share of partitions its runner
/// may hold, the turn its runner's workers take, and (for partition 0) its
/// siblings' control channels.
type PartitionOf = (
    PartitionFilter,
    Arc<Share>,
    Arc<tokio::sync::Mutex<()>>,
    Option<Siblings>,
);

/// What the status of each worker of a version needs.
type PartParts = (
    Option<PartitionFilter>,
    Arc<str>,
    EventFilter,
    watch::Receiver<Published>,
);

fn parts_of(handle: &Handle) -> Vec<PartParts> {
    handle
        .parts
        .iter()
        .map(|p| {
            (
                p.partition,
                p.slot.clone(),
                p.filter.clone(),
                p.status.clone(),
            )
        })
        .collect()
}

/// The filter for a projection's events, their aliases included.
fn filter_for(events: &[&'static str]) -> EventFilter {
    let registry = Registry::global();
    let mut names: Vec<&str> = Vec::new();
    for name in events {
        names.push(name);
        if let Some(event) = registry.event(name) {
            names.extend(event.aliases.iter().copied());
        }
    }
    EventFilter::all().with_event_names(names)
}
