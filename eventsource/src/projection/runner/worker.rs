//! The task that drives one projection: lease, catch-up, live, batches.

use std::any::Any;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::forward::Forward;
use super::lease::{Lease, LeaseKeeper};
use super::messages::{Control, PartitionRebuild, ResetScope, Siblings};
use super::options::RunnerOptions;
use super::partitions::{Share, partition_slot};
use super::rebuild::{Ended, PendingRebuild, Requester};
use super::status::{ProjectionState, Published};
use crate::clock::Clock;
use crate::event::RecordedEvent;
use crate::metrics::{self, LeaseChange};
use crate::projection::control::{ControlCommand, ControlRequest, ControlStatus, ControlStore};
use crate::projection::interceptor::{EventDecision, EventInfo, EventInterceptors};
use crate::projection::{
    CommitError, DeadLetterStore, ParkedEvent, Projection, ProjectionBackend, ProjectionError,
    ProjectionTx, RunnerError,
};
use crate::store::PartitionFilter;
use crate::store::StoreError;
use crate::store::{CorruptRecord, EventFilter, EventStore, SubscriptionItem};

/// How long the partitions' holders have, at least, to carry out a request
/// handed on to them before it is reported as not carried out everywhere
/// (four lease TTLs when that is longer: a dead holder's partition has
/// been taken over by then).
const FORWARD_WITHIN: Duration = Duration::from_secs(30);

/// Why processing stopped short of the batch's end.
enum Interrupt {
    LeaseLost,
    Store(StoreError),
}

impl From<StoreError> for Interrupt {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

impl From<CommitError> for Interrupt {
    fn from(err: CommitError) -> Self {
        match err {
            CommitError::LeaseLost => Self::LeaseLost,
            CommitError::Store(e) => Self::Store(e),
        }
    }
}

impl Interrupt {
    fn into_runner_error(self, name: &str) -> RunnerError {
        match self {
            Self::LeaseLost => RunnerError::NotOwner(name.to_owned()),
            Self::Store(e) => RunnerError::Store(e),
        }
    }
}

pub(super) struct Worker<P: Projection> {
    pub(super) projection: P,
    pub(super) backend: Arc<dyn ProjectionBackend<P::Context>>,
    pub(super) store: Arc<dyn EventStore>,
    pub(super) dead_letters: Arc<dyn DeadLetterStore>,
    pub(super) options: RunnerOptions,
    pub(super) owner: Uuid,
    pub(super) filter: EventFilter,
    pub(super) status: watch::Sender<Published>,
    pub(super) control: mpsc::Receiver<Control>,
    pub(super) committed: Option<u64>,
    /// Renews the lease while this instance holds it.
    pub(super) lease: Option<LeaseKeeper>,
    /// A rebuild that has reset the projection and is replaying the log;
    /// answered once the replay is live.
    pub(super) rebuild: Option<PendingRebuild>,
    pub(super) clock: Clock,
    /// Where this version keeps its checkpoint, lease and parked events
    /// (see [`slot`](super::versions::slot)).
    pub(super) slot: Arc<str>,
    /// The version the store says queries read (`None`: none yet).
    pub(super) active: Option<u32>,
    /// Where operators record requests for this projection's owner.
    pub(super) requests: Arc<dyn ControlStore>,
    /// Wakes the owner when requests may have been recorded, if the store can.
    pub(super) requests_changed: Option<watch::Receiver<u64>>,
    /// Whether an operator paused the projection.
    pub(super) paused: bool,
    /// Run around each event, in order.
    pub(super) interceptors: EventInterceptors,
    /// For the worker of one partition: its number, and the share of
    /// partitions its runner may hold.
    pub(super) share: Option<(u32, Arc<Share>)>,
    /// Taken by the partitions' workers of one runner around each unit of
    /// work that runs handlers: they share the projection value, and a
    /// unit of work opened before waiting for it would sit idle, holding
    /// its transaction, for as long as the others' units run.
    pub(super) turn: Option<Arc<tokio::sync::Mutex<()>>>,
    /// For the worker of partition 0: the control channels of every
    /// partition of its version in this runner, through which it carries
    /// out the rebuild requests recorded for the whole version.
    pub(super) siblings: Option<Siblings>,
}

impl<P: Projection> Worker<P> {
    pub(super) async fn run(mut self) {
        if let Some((_, share)) = &self.share {
            // The membership beats every `period`; two leave room for a
            // slow first beat.
            let period = self.options.membership_period();
            share.settled(&self.clock, period * 2).await;
        }
        let mut retire = false;
        // Whether this instance held the lease when the loop ended.
        let mut held;
        loop {
            held = false;
            let asked = match self.hold_lease().await {
                Held::Lease(asked) => asked,
                Held::Stop => break,
                Held::Retire => {
                    held = true;
                    metrics::lease_changed(P::NAME, LeaseChange::Acquired);
                    self.retire().await;
                    retire = true;
                    break;
                }
                Held::Superseded => {
                    // A standby of an old version: the lease holder retires it.
                    self.publish(|s| s.state = ProjectionState::Retired);
                    retire = true;
                    break;
                }
            };
            held = true;
            metrics::lease_changed(P::NAME, LeaseChange::Acquired);
            let owner = self.owner;
            self.publish(|s| s.owner = Some(owner));
            self.lease = Some(LeaseKeeper::start(
                Lease {
                    backend: self.backend.clone(),
                    name: self.slot.clone(),
                    owner: self.owner,
                    ttl: self.options.lease_ttl,
                    period: self.options.renew_every(),
                    clock: self.clock.clone(),
                },
                asked,
            ));
            let flow = self.follow().await;
            if flow == Flow::Retire {
                self.retire().await;
            }
            if let Some(lease) = self.lease.take() {
                lease.stop().await;
            }
            self.publish(|s| s.owner = None);
            match flow {
                Flow::Stop => break,
                Flow::Retire => {
                    retire = true;
                    break;
                }
                Flow::Restart => {}
                Flow::Yield => {
                    // Free at once for the runner whose share it is now.
                    match self.backend.release(&self.slot, self.owner).await {
                        Ok(()) => metrics::lease_changed(P::NAME, LeaseChange::Released),
                        Err(error) => {
                            tracing::warn!(projection = P::NAME, slot = &*self.slot, %error, "cannot release the lease")
                        }
                    }
                    self.publish(|s| s.state = ProjectionState::Standby);
                }
            }
        }
        if let Some((partition, share)) = &self.share {
            share.unreserve(*partition);
        }
        if let Some(rebuild) = self.rebuild.take() {
            let error = if retire {
                RunnerError::NotOwner(P::NAME.to_owned())
            } else {
                RunnerError::Stopped(P::NAME.to_owned())
            };
            let ended = rebuild.fail(error);
            self.record(ended).await;
        }
        match self.backend.release(&self.slot, self.owner).await {
            Ok(()) if held => metrics::lease_changed(P::NAME, LeaseChange::Released),
            Ok(()) => {}
            Err(error) => tracing::warn!(projection = P::NAME, %error, "cannot release the lease"),
        }
        self.publish(|s| {
            if s.state != ProjectionState::Retired {
                s.state = ProjectionState::Stopped;
            }
        });
    }

    /// Whether the store has activated a newer version than this one.
    async fn superseded(&mut self) -> bool {
        match self.backend.active_version(P::NAME).await {
            Ok(active) => {
                if active != self.active {
                    self.active = active;
                    self.publish(|s| s.active = active);
                }
                active.is_some_and(|a| a > P::VERSION)
            }
            // The next check asks again; meanwhile this version goes on.
            Err(error) => {
                tracing::debug!(projection = P::NAME, %error, "cannot read the active version");
                false
            }
        }
    }

    /// Whether this partition's worker should give its lease up: its runner
    /// holds more partitions than its fair share, and this is the one to go.
    fn yields(&self) -> bool {
        let Some((partition, share)) = &self.share else {
            return false;
        };
        if self.rebuild.is_some() || !share.should_yield(*partition) {
            return false;
        }
        tracing::info!(
            projection = P::NAME,
            slot = &*self.slot,
            share = share.fair(),
            "more partitions held than the fair share; giving this one up"
        );
        true
    }

    /// Whether every partition of a partitioned version has processed the
    /// log as far as this one (always, unpartitioned): a version becomes
    /// active only once all its partitions, wherever they run, have caught
    /// up. Asked again at this partition's next live point.
    async fn partitions_reached(&mut self) -> bool {
        let Some((_, share)) = &self.share else {
            return true;
        };
        let Some(mine) = self.committed else {
            return false;
        };
        let base = super::versions::slot(P::NAME, P::VERSION);
        for index in 0..share.count() {
            let Ok(partition) = PartitionFilter::new(index, share.count()) else {
                return false;
            };
            match self
                .backend
                .checkpoint(&partition_slot(&base, partition))
                .await
            {
                Ok(Some(position)) if position >= mine => {}
                _ => return false,
            }
        }
        true
    }

    /// Makes this version the active one, once it has caught up.
    async fn activate(&mut self) {
        match self.backend.activate(P::NAME, P::VERSION).await {
            Ok(active) => {
                if self.active != Some(active) {
                    tracing::info!(
                        projection = P::NAME,
                        version = P::VERSION,
                        previous = ?self.active,
                        "version caught up and took over"
                    );
                }
                self.active = Some(active);
                self.publish(|s| s.active = Some(active));
            }
            // Tried again at the next live point.
            Err(error) => {
                tracing::warn!(projection = P::NAME, %error, "cannot activate the version")
            }
        }
    }

    /// Runs the `#[retire]` method once a newer version took over.
    async fn retire(&mut self) {
        tracing::info!(
            projection = P::NAME,
            version = P::VERSION,
            active = ?self.active,
            "a newer version took over; retiring this one"
        );
        if P::RETIRES {
            let outcome = async {
                let mut tx = self.backend.begin(self.options.lease_ttl).await?;
                let retired = AssertUnwindSafe(self.projection.retire(tx.context()))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| Err(ProjectionError::Panicked(panic_message(&*panic))));
                match retired {
                    Ok(()) => tx
                        .commit(&self.slot, self.owner, None)
                        .await
                        .map_err(|e| Interrupt::from(e).into_runner_error(P::NAME)),
                    Err(error) => {
                        rollback(tx, P::NAME).await;
                        Err(RunnerError::Retire {
                            name: P::NAME.to_owned(),
                            source: Box::new(error),
                        })
                    }
                }
            }
            .await;
            if let Err(error) = outcome {
                tracing::warn!(projection = P::NAME, %error, "the #[retire] method failed");
                let message = error.to_string();
                self.publish(|s| s.last_error = Some(message));
            }
        }
        self.publish(|s| s.state = ProjectionState::Retired);
    }

    /// Waits in standby until this instance holds the lease, it is told to
    /// stop, or a newer version took over.
    async fn hold_lease(&mut self) -> Held {
        loop {
            let asked = self.clock.instant();
            // A partition is asked for only within the runner's fair share.
            let acquired = match &self.share {
                Some((partition, share)) if !share.reserve(*partition) => Ok(false),
                _ => {
                    self.backend
                        .acquire(&self.slot, self.owner, self.options.lease_ttl)
                        .await
                }
            };
            if let Some((partition, share)) = &self.share
                && !matches!(acquired, Ok(true))
            {
                share.unreserve(*partition);
            }
            match acquired {
                Ok(true) if self.superseded().await => return Held::Retire,
                Ok(true) => return Held::Lease(asked),
                Ok(false) if self.superseded().await => return Held::Superseded,
                Ok(false) => {
                    // Another instance processes the projection; report its
                    // progress, so waits for a position work here too.
                    let position = self.backend.checkpoint(&self.slot).await;
                    self.publish(|s| {
                        s.state = ProjectionState::Standby;
                        if let Ok(position) = position {
                            s.position = position;
                        }
                    });
                }
                Err(error) => self.failed(&error),
            }
            // Biased, like every select of the runtime: Tokio's random
            // choice would make a seeded run depend on the process's seed.
            tokio::select! {
                biased;
                message = self.control.recv() => match message {
                    None | Some(Control::Stop) => return Held::Stop,
                    Some(Control::Rebuild { reply, .. }) => {
                        let _ = reply.send(Err(RunnerError::NotOwner(P::NAME.to_owned())));
                    }
                    Some(Control::RetryParked { reply, .. }) => {
                        let _ = reply.send(Err(RunnerError::NotOwner(P::NAME.to_owned())));
                    }
                    Some(Control::PartitionRebuild(part)) => {
                        let _ = part.ready.send(Err(RunnerError::NotOwner(P::NAME.to_owned())));
                    }
                },
                () = self.clock.sleep(self.options.standby_poll) => {}
            }
        }
    }

    /// Catches up from the checkpoint and follows the log until told to stop
    /// or something forces a restart (lost lease, store failure, rebuild).
    async fn follow(&mut self) -> Flow {
        self.committed = match self.backend.checkpoint(&self.slot).await {
            Ok(position) => position,
            Err(error) => return self.pause(&error).await,
        };
        self.paused = match self.requests.paused(&self.slot).await {
            Ok(paused) => paused,
            Err(error) => return self.pause(&error).await,
        };
        let state = if self.rebuild.is_some() {
            ProjectionState::Rebuilding
        } else if self.paused {
            ProjectionState::Paused
        } else {
            ProjectionState::CatchingUp
        };
        self.publish(|s| {
            s.state = state;
            s.position = self.committed;
        });
        let from = self.committed.map_or(1, |p| p + 1);
        let mut items = self
            .store
            .subscribe_as(&self.slot, from, self.filter.clone())
            .ready_chunks(self.options.batch_size);
        // Another process may activate a newer version at any time.
        let period = self.options.renew_every();
        let mut versions = self
            .clock
            .interval_at(self.clock.instant() + period, period);
        // Requests recorded while no instance held the lease come first.
        let mut requests = self
            .clock
            .interval_at(self.clock.instant(), self.options.control_poll);
        loop {
            tokio::select! {
                biased;
                message = self.control.recv() => match message {
                    None | Some(Control::Stop) => return Flow::Stop,
                    Some(Control::Rebuild { progress, reply }) => {
                        if self.rebuild.is_some() {
                            let _ = reply.send(Err(RunnerError::Rebuilding(P::NAME.to_owned())));
                            continue;
                        }
                        if self.paused {
                            let _ = reply.send(Err(RunnerError::Paused(P::NAME.to_owned())));
                            continue;
                        }
                        match self.reset(ResetScope::ReadModel).await {
                            Ok(total) => {
                                let requester = Requester::Caller { progress, reply };
                                self.rebuild = Some(PendingRebuild::new(requester, total, self.clock.instant()));
                            }
                            Err(error) => {
                                // It goes on from the checkpoint it kept: say
                                // so before answering.
                                self.publish(|s| s.state = ProjectionState::CatchingUp);
                                let _ = reply.send(Err(error));
                            }
                        }
                        return Flow::Restart;
                    }
                    Some(Control::RetryParked { position, reply }) => {
                        let _ = reply.send(self.retry_parked(position).await);
                    }
                    Some(Control::PartitionRebuild(part)) => {
                        if let Some(flow) = self.partition_rebuild(part).await {
                            return flow;
                        }
                    }
                },
                () = lease_lost(&mut self.lease) => return self.lost_lease().await,
                _ = versions.tick() => {
                    if self.superseded().await {
                        return Flow::Retire;
                    }
                    if self.yields() {
                        return Flow::Yield;
                    }
                }
                () = changed(&mut self.requests_changed) => {
                    if let Some(flow) = self.obey().await {
                        return flow;
                    }
                }
                _ = requests.tick() => {
                    if let Some(flow) = self.obey().await {
                        return flow;
                    }
                }
                chunk = items.next(), if !self.paused => match chunk {
                    None => {
                        let error = StoreError::invalid("the subscription ended");
                        return self.pause(&error).await;
                    }
                    Some(chunk) => {
                        let replayed = chunk
                            .iter()
                            .filter(|item| {
                                matches!(item, Ok(SubscriptionItem::Event(_) | SubscriptionItem::Corrupt(_)))
                            })
                            .count() as u64;
                        match self.process_items(chunk).await {
                            Ok(live) => {
                                if live && self.active != Some(P::VERSION) {
                                    if self.superseded().await {
                                        return Flow::Retire;
                                    }
                                    if self.partitions_reached().await {
                                        self.activate().await;
                                    }
                                }
                                self.rebuild_progress(replayed, live).await;
                                // Between units of work: a runner that joined
                                // gets its share without waiting for a tick.
                                if self.yields() {
                                    return Flow::Yield;
                                }
                            }
                            Err(Interrupt::LeaseLost) => return self.lost_lease().await,
                            // A rebuild in progress goes on after the pause,
                            // from the checkpoint its replay reached.
                            Err(Interrupt::Store(error)) => return self.pause(&error).await,
                        }
                    }
                },
            }
        }
    }

    /// This partition's part in a rebuild the runner coordinates: `None`
    /// when it was refused or given up before anything changed.
    async fn partition_rebuild(&mut self, part: PartitionRebuild) -> Option<Flow> {
        let PartitionRebuild {
            ready,
            go,
            reset,
            progress,
            reply,
        } = part;
        let refused = if self.rebuild.is_some() {
            Some(RunnerError::Rebuilding(P::NAME.to_owned()))
        } else if self.paused {
            Some(RunnerError::Paused(P::NAME.to_owned()))
        } else if self.lease.as_ref().is_none_or(LeaseKeeper::is_lost) {
            Some(RunnerError::NotOwner(P::NAME.to_owned()))
        } else {
            None
        };
        if let Some(error) = refused {
            let _ = ready.send(Err(error));
            return None;
        }
        if ready.send(Ok(())).is_err() {
            return None;
        }
        // Nothing is processed while waiting: no partition of this runner
        // writes between the reset of the read model and its own reset.
        // The runner bounds the wait for the others' readiness, and drops
        // `go` when it gives up.
        let Ok(scope) = go.await else {
            return None;
        };
        match self.reset(scope).await {
            Ok(total) => {
                let _ = reset.send(Ok(total));
                let requester = Requester::Caller { progress, reply };
                self.rebuild = Some(PendingRebuild::new(requester, total, self.clock.instant()));
            }
            Err(error) => {
                self.publish(|s| s.state = ProjectionState::CatchingUp);
                let _ = reset.send(Err(error));
            }
        }
        Some(Flow::Restart)
    }

    /// Another instance took the lease: a rebuild in progress is its now.
    async fn lost_lease(&mut self) -> Flow {
        metrics::lease_changed(P::NAME, LeaseChange::Lost);
        if let Some(rebuild) = self.rebuild.take() {
            let ended = rebuild.fail(RunnerError::NotOwner(P::NAME.to_owned()));
            self.record(ended).await;
        }
        Flow::Restart
    }

    /// Reports a rebuild's progress after `replayed` more items, and answers
    /// it once the replay is `live`.
    async fn rebuild_progress(&mut self, replayed: u64, live: bool) {
        if let Some(rebuild) = &mut self.rebuild {
            rebuild.advanced(P::NAME, replayed, self.clock.instant());
        }
        if live && let Some(rebuild) = self.rebuild.take() {
            let ended = rebuild.finish(P::NAME);
            self.record(ended).await;
        }
    }

    /// Records how a rebuild requested through the store ended.
    async fn record(&mut self, ended: Option<Ended>) {
        if let Some(ended) = ended {
            let (status, outcome) = match ended.outcome {
                Ok(outcome) => (ControlStatus::Done, outcome),
                Err(outcome) => (ControlStatus::Failed, outcome),
            };
            self.answer(ended.request, status, &outcome).await;
        }
    }

    /// Records the outcome of request `id`. A failure to record it is
    /// logged: the request stays as it was, and the operator's wait says so.
    async fn answer(&mut self, id: Uuid, status: ControlStatus, outcome: &str) {
        if let Err(error) = self
            .requests
            .finish(id, status, self.owner, Some(outcome))
            .await
        {
            tracing::warn!(projection = P::NAME, %error, request = %id, "cannot record the outcome of a control request");
        }
    }

    /// Carries out the pending control requests, oldest first; returns how
    /// to go on when one needs the subscription restarted (a rebuild, a
    /// reset).
    async fn obey(&mut self) -> Option<Flow> {
        let pending = match self.requests.pending(&self.slot).await {
            Ok(pending) => pending,
            Err(error) => {
                // Polled again at the next tick.
                tracing::debug!(projection = P::NAME, %error, "cannot read control requests");
                return None;
            }
        };
        for request in pending {
            if let Some(flow) = self.carry_out(request).await {
                return Some(flow);
            }
        }
        self.obey_for_version().await;
        None
    }

    /// The requests recorded for the whole of a partitioned version (its
    /// slot without a partition), taken up by partition 0's holder: a
    /// rebuild it coordinates itself; the other commands it hands on to
    /// each partition's own slot (see [`Forward`]).
    async fn obey_for_version(&mut self) {
        let Some(siblings) = self.siblings.clone() else {
            return;
        };
        let version = super::versions::slot(P::NAME, P::VERSION);
        let pending = match self.requests.pending(&version).await {
            Ok(pending) => pending,
            Err(error) => {
                tracing::debug!(projection = P::NAME, %error, "cannot read control requests");
                return;
            }
        };
        for request in pending {
            if request.command != ControlCommand::Rebuild {
                tracing::info!(
                    projection = P::NAME,
                    version = P::VERSION,
                    request = %request.id,
                    command = %request.command,
                    "handing a control request on to every partition"
                );
                Forward {
                    requests: self.requests.clone(),
                    dead_letters: self.dead_letters.clone(),
                    version_slot: version.clone(),
                    partitions: P::PARTITIONS,
                    owner: self.owner,
                    clock: self.clock.clone(),
                    within: FORWARD_WITHIN.max(self.options.lease_ttl * 4),
                }
                .hand_on(request)
                .await;
                continue;
            }
            tracing::info!(
                projection = P::NAME,
                version = P::VERSION,
                request = %request.id,
                "carrying out the rebuild of every partition"
            );
            if !P::RESETS {
                let error = RunnerError::NoReset(P::NAME.to_owned());
                self.answer(request.id, ControlStatus::Failed, &error.to_string())
                    .await;
                continue;
            }
            let controls: Option<Vec<mpsc::Sender<Control>>> = siblings
                .get()
                .map(|all| all.iter().filter_map(mpsc::WeakSender::upgrade).collect());
            let Some(controls) = controls.filter(|c| c.len() == P::PARTITIONS as usize) else {
                let error = RunnerError::Stopped(P::NAME.to_owned());
                self.answer(request.id, ControlStatus::Failed, &error.to_string())
                    .await;
                continue;
            };
            self.answer(
                request.id,
                ControlStatus::Running,
                &format!("rebuilding {} partitions", controls.len()),
            )
            .await;
            // In a task of its own: this worker takes part in it like the
            // others, through its control channel.
            let requests = self.requests.clone();
            let clock = self.clock.clone();
            let ttl = self.options.lease_ttl;
            let owner = self.owner;
            let id = request.id;
            tokio::spawn(async move {
                let ended = super::partition_rebuild::rebuild(
                    P::NAME,
                    controls,
                    &clock,
                    ttl,
                    Box::new(|_| {}),
                )
                .await;
                let (status, outcome) = match ended {
                    Ok(report) => (
                        ControlStatus::Done,
                        format!(
                            "replayed {} events in {:.1} s",
                            report.done,
                            report.elapsed.as_secs_f64()
                        ),
                    ),
                    Err(error) => (ControlStatus::Failed, error.to_string()),
                };
                if let Err(error) = requests.finish(id, status, owner, Some(&outcome)).await {
                    tracing::warn!(projection = P::NAME, %error, request = %id, "cannot record the outcome of a control request");
                }
            });
            // One rebuild at a time; a later one is read at the next poll.
            return;
        }
    }

    async fn carry_out(&mut self, request: ControlRequest) -> Option<Flow> {
        tracing::info!(
            projection = P::NAME,
            version = P::VERSION,
            request = %request.id,
            command = %request.command,
            "carrying out a control request"
        );
        let id = request.id;
        match request.command {
            ControlCommand::Pause => {
                self.paused = true;
                self.publish(|s| s.state = ProjectionState::Paused);
                let at = self
                    .committed
                    .map_or_else(|| "the start".to_owned(), |p| format!("position {p}"));
                self.answer(id, ControlStatus::Done, &format!("paused at {at}"))
                    .await;
                None
            }
            ControlCommand::Resume => {
                let was = std::mem::replace(&mut self.paused, false);
                self.publish(|s| {
                    if s.state == ProjectionState::Paused {
                        s.state = ProjectionState::CatchingUp;
                    }
                });
                let outcome = if was { "resumed" } else { "was not paused" };
                self.answer(id, ControlStatus::Done, outcome).await;
                None
            }
            ControlCommand::Rebuild => self.rebuild_requested(id).await,
            ControlCommand::Reset { position } => self.reset_requested(id, position).await,
            ControlCommand::Retry { position } => {
                let (status, outcome) = self.retry_requested(position).await;
                self.answer(id, status, &outcome).await;
                None
            }
        }
    }

    async fn rebuild_requested(&mut self, id: Uuid) -> Option<Flow> {
        let refused = if !P::RESETS {
            Some(RunnerError::NoReset(P::NAME.to_owned()))
        } else if self.paused {
            Some(RunnerError::Paused(P::NAME.to_owned()))
        } else if self.rebuild.is_some() {
            Some(RunnerError::Rebuilding(P::NAME.to_owned()))
        } else {
            None
        };
        if let Some(error) = refused {
            self.answer(id, ControlStatus::Failed, &error.to_string())
                .await;
            return None;
        }
        match self.reset(ResetScope::ReadModel).await {
            Ok(total) => {
                self.rebuild = Some(PendingRebuild::new(
                    Requester::Request(id),
                    total,
                    self.clock.instant(),
                ));
                self.answer(
                    id,
                    ControlStatus::Running,
                    &format!("replaying {total} events"),
                )
                .await;
            }
            Err(error) => {
                self.publish(|s| s.state = ProjectionState::CatchingUp);
                self.answer(id, ControlStatus::Failed, &error.to_string())
                    .await;
            }
        }
        Some(Flow::Restart)
    }

    /// Moves the checkpoint to `position` (back or forward), leaving the
    /// read model as it is.
    async fn reset_requested(&mut self, id: Uuid, position: u64) -> Option<Flow> {
        let from = self.committed;
        let moved = async {
            let mut tx = self.backend.begin(self.options.lease_ttl).await?;
            tx.reset_checkpoint(&self.slot).await?;
            let to = (position > 0).then_some(position);
            tx.commit(&self.slot, self.owner, to)
                .await
                .map_err(|e| Interrupt::from(e).into_runner_error(P::NAME))
        }
        .await;
        match moved {
            Ok(()) => {
                self.committed = (position > 0).then_some(position);
                let committed = self.committed;
                self.publish(|s| s.position = committed);
                let from = from.map_or_else(|| "the start".to_owned(), |p| p.to_string());
                self.answer(
                    id,
                    ControlStatus::Done,
                    &format!("checkpoint moved from {from} to {position}"),
                )
                .await;
                Some(Flow::Restart)
            }
            Err(error) => {
                self.answer(id, ControlStatus::Failed, &error.to_string())
                    .await;
                None
            }
        }
    }

    /// Runs parked events again: the one at `position`, or all of them.
    async fn retry_requested(&mut self, position: Option<u64>) -> (ControlStatus, String) {
        let positions = match position {
            Some(position) => vec![position],
            None => match self.dead_letters.list(&self.slot).await {
                Ok(parked) => parked.iter().map(|p| p.global_position).collect(),
                Err(error) => return (ControlStatus::Failed, error.to_string()),
            },
        };
        let mut failed = Vec::new();
        for position in &positions {
            if let Err(error) = self.retry_parked(*position).await {
                failed.push(format!("{position}: {error}"));
            }
        }
        if failed.is_empty() {
            (
                ControlStatus::Done,
                format!("{} parked event(s) handled", positions.len()),
            )
        } else {
            (
                ControlStatus::Failed,
                format!(
                    "{} of {} failed again: {}",
                    failed.len(),
                    positions.len(),
                    failed.join("; ")
                ),
            )
        }
    }

    async fn pause(&mut self, error: &StoreError) -> Flow {
        self.failed(error);
        // The subscription is opened again from the checkpoint.
        metrics::subscription_reconnected(P::NAME);
        self.clock.sleep(self.options.reconnect_delay).await;
        Flow::Restart
    }

    fn failed(&self, error: &StoreError) {
        tracing::warn!(projection = P::NAME, %error, "store failure; will resume from the checkpoint");
        self.publish(|s| {
            s.state = ProjectionState::Failed(error.to_string());
            s.last_error = Some(error.to_string());
        });
    }

    /// Handles one chunk of subscription items; `Ok(true)` when it ended
    /// caught up (live).
    async fn process_items(
        &mut self,
        chunk: Vec<Result<SubscriptionItem, StoreError>>,
    ) -> Result<bool, Interrupt> {
        let mut events = Vec::with_capacity(chunk.len());
        let mut live = false;
        #[cfg(feature = "metrics")]
        let mut newest = None;
        for item in chunk {
            // An `Err` item is a failure of the store itself (a lost
            // connection): the caller pauses and resumes from the checkpoint.
            match item? {
                SubscriptionItem::Event(event) => {
                    #[cfg(feature = "metrics")]
                    {
                        newest = Some(event.recorded_at);
                    }
                    events.push(event);
                    live = false;
                }
                SubscriptionItem::Corrupt(record) => {
                    self.process(&events).await?;
                    events.clear();
                    self.park_corrupt(&record).await?;
                    live = false;
                }
                SubscriptionItem::CaughtUp { position } => {
                    self.process(&events).await?;
                    events.clear();
                    if self.committed.is_none_or(|c| c < position) {
                        self.commit_position(position).await?;
                    }
                    self.publish(|s| s.state = ProjectionState::Live);
                    live = true;
                }
            }
        }
        self.process(&events).await?;
        #[cfg(feature = "metrics")]
        self.report_lag(newest, live).await;
        Ok(live)
    }

    /// Reports how far behind the store's head the projection is, after a
    /// batch whose newest event was recorded at `newest`.
    #[cfg(feature = "metrics")]
    async fn report_lag(&mut self, newest: Option<chrono::DateTime<chrono::Utc>>, live: bool) {
        let seconds = match newest {
            Some(recorded) if !live => (self.clock.now() - recorded)
                .to_std()
                .map_or(0.0, |age| age.as_secs_f64()),
            _ => 0.0,
        };
        match self.store.head_position().await {
            Ok(head) => {
                let behind = head.saturating_sub(self.committed.unwrap_or(0));
                metrics::projection_lag(P::NAME, behind, seconds);
            }
            // Reported again after the next batch.
            Err(error) => {
                tracing::debug!(projection = P::NAME, %error, "cannot read the head position")
            }
        }
    }

    /// Parks a record the store could not read as an event, and moves the
    /// checkpoint past it: retrying cannot make it readable.
    async fn park_corrupt(&mut self, record: &CorruptRecord) -> Result<(), Interrupt> {
        tracing::warn!(
            projection = P::NAME,
            position = record.global_position,
            stream_id = %record.stream_id,
            reason = %record.reason,
            "parking a stored record that cannot be read as an event"
        );
        metrics::parked(P::NAME, "corrupt");
        let parked = ParkedEvent::corrupt(&self.slot, record);
        let message = parked.error.clone();
        self.publish(|s| s.last_error = Some(message));
        self.dead_letters.park(parked).await?;
        self.commit_position(record.global_position).await
    }

    /// Handles `events` (at most a batch) in as few units of work as
    /// failures allow, retrying and parking failing events so that the rest
    /// goes on.
    async fn process(&mut self, events: &[RecordedEvent]) -> Result<(), Interrupt> {
        // Runs of an event that failed inside a larger unit of work, by index:
        // they were real attempts, so the count parked with it includes them.
        let mut failed_runs: HashMap<usize, u32> = HashMap::new();
        // The latest failure, retried on its own once what comes before it
        // has committed.
        let mut failure: Option<(usize, ProjectionError)> = None;
        let mut start = 0;
        while start < events.len() {
            if let Some((index, error)) = failure.take_if(|(index, _)| *index == start) {
                let attempts = failed_runs.remove(&index).unwrap_or(1);
                self.retry_or_park(&events[index], error, attempts).await?;
                start += 1;
                continue;
            }
            let end = failure.as_ref().map_or(events.len(), |(index, _)| *index);
            match self.try_window(&events[start..end]).await? {
                Ok(()) => start = end,
                Err((offset, error)) => {
                    let index = start + offset;
                    *failed_runs.entry(index).or_default() += 1;
                    if offset > 0 && !P::TRANSACTIONAL {
                        // Effects outside a transaction stay applied;
                        // record that they were. (A transactional prefix was
                        // rolled back with the failure and runs again.)
                        self.commit_position(events[index - 1].global_position)
                            .await?;
                        start = index;
                    }
                    failure = Some((index, error));
                }
            }
        }
        Ok(())
    }

    /// One unit of work over `window`: committed whole, or rolled back at the
    /// first failure (returned with its index).
    async fn try_window(
        &mut self,
        window: &[RecordedEvent],
    ) -> Result<Result<(), (usize, ProjectionError)>, Interrupt> {
        let Some(last) = window.last() else {
            return Ok(Ok(()));
        };
        if crate::mutation::enabled(crate::mutation::Mutation::CheckpointBeforeReadModel) {
            self.commit_position(last.global_position).await?;
        }
        let replay = self.rebuild.is_some();
        let turn = self.turn.clone();
        let _turn = take_turn(turn.as_deref()).await;
        let mut tx = self.backend.begin(self.options.lease_ttl).await?;
        for (index, event) in window.iter().enumerate() {
            if self.lease.as_ref().is_some_and(LeaseKeeper::is_lost) {
                // Another instance may handle these events now.
                rollback(tx, P::NAME).await;
                return Err(Interrupt::LeaseLost);
            }
            if let Err(error) = handle(
                &self.interceptors,
                &mut self.projection,
                event,
                tx.as_mut(),
                replay,
            )
            .await
            {
                rollback(tx, P::NAME).await;
                return Ok(Err((index, error)));
            }
        }
        tx.commit(&self.slot, self.owner, Some(last.global_position))
            .await?;
        self.advance(last.global_position, window.len() as u64);
        Ok(Ok(()))
    }

    /// Retries `event`, which failed `attempts` times, until it succeeds or
    /// has had its retries; then parks it. The lease is renewed meanwhile.
    async fn retry_or_park(
        &mut self,
        event: &RecordedEvent,
        mut error: ProjectionError,
        mut attempts: u32,
    ) -> Result<(), Interrupt> {
        while error.is_retryable() && attempts <= self.options.max_retries {
            self.clock.sleep(self.options.retry_delay(attempts)).await;
            if self.lease.as_ref().is_some_and(LeaseKeeper::is_lost) {
                // Another instance handles this event now.
                return Err(Interrupt::LeaseLost);
            }
            attempts += 1;
            let turn = self.turn.clone();
            let _turn = take_turn(turn.as_deref()).await;
            let mut tx = self.backend.begin(self.options.lease_ttl).await?;
            let replay = self.rebuild.is_some();
            match handle(
                &self.interceptors,
                &mut self.projection,
                event,
                tx.as_mut(),
                replay,
            )
            .await
            {
                Ok(()) => {
                    tx.commit(&self.slot, self.owner, Some(event.global_position))
                        .await?;
                    self.advance(event.global_position, 1);
                    return Ok(());
                }
                Err(again) => {
                    rollback(tx, P::NAME).await;
                    error = again;
                }
            }
        }
        tracing::warn!(
            projection = P::NAME,
            position = event.global_position,
            event = &*event.event_name,
            stream_id = &*event.stream_id,
            attempts,
            %error,
            "parking an event the projection keeps failing on"
        );
        metrics::parked(P::NAME, "failed");
        let message = error.to_string();
        self.publish(|s| s.last_error = Some(message.clone()));
        self.dead_letters
            .park(ParkedEvent {
                parked_at: self.clock.now(),
                ..ParkedEvent::new(&self.slot, event, message, attempts)
            })
            .await?;
        self.commit_position(event.global_position).await
    }

    /// Commits the checkpoint alone.
    async fn commit_position(&mut self, position: u64) -> Result<(), Interrupt> {
        let tx = self.backend.begin(self.options.lease_ttl).await?;
        tx.commit(&self.slot, self.owner, Some(position)).await?;
        self.advance(position, 0);
        Ok(())
    }

    fn advance(&mut self, position: u64, handled: u64) {
        self.committed = Some(self.committed.map_or(position, |c| c.max(position)));
        // A source acknowledging deliveries (JetStream) may do so now.
        self.store.committed(&self.slot, position);
        let committed = self.committed;
        self.publish(|s| {
            s.position = committed;
            s.processed += handled;
        });
    }

    fn publish(&self, change: impl FnOnce(&mut Published)) {
        self.status.send_modify(change);
    }

    /// Clears the read model (the `#[reset]` method), the checkpoint and the
    /// parked events, for a rebuild; returns how many events the replay
    /// will go through. The replay itself is the following from position 1
    /// that comes next, so it parks what it cannot decode and survives
    /// store failures like any catch-up.
    ///
    /// With [`ResetScope::Checkpoint`] (the other partitions of a
    /// partitioned projection) the read model is left alone: one
    /// partition's reset cleared it for all.
    async fn reset(&mut self, scope: ResetScope) -> Result<u64, RunnerError> {
        self.publish(|s| s.state = ProjectionState::Rebuilding);
        let mut tx = self.backend.begin(self.options.lease_ttl).await?;
        let reset = if scope == ResetScope::ReadModel {
            AssertUnwindSafe(self.projection.reset(tx.context()))
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Err(ProjectionError::Panicked(panic_message(&*panic))))
        } else {
            Ok(())
        };
        if let Err(error) = reset {
            rollback(tx, P::NAME).await;
            tracing::warn!(projection = P::NAME, %error, "the reset failed; going on from the checkpoint");
            let message = error.to_string();
            // The caller restarts from the checkpoint, which was kept.
            self.publish(|s| s.last_error = Some(message));
            return Err(RunnerError::Reset {
                name: P::NAME.to_owned(),
                source: Box::new(error),
            });
        }
        tx.reset_checkpoint(&self.slot).await?;
        tx.commit(&self.slot, self.owner, None)
            .await
            .map_err(|e| Interrupt::from(e).into_runner_error(P::NAME))?;
        self.committed = None;
        self.publish(|s| s.position = None);
        self.dead_letters.clear(&self.slot).await?;
        Ok(self.store.count_events(1, self.filter.clone()).await?)
    }

    async fn retry_parked(&mut self, position: u64) -> Result<(), RunnerError> {
        let not_parked = || RunnerError::NotParked {
            name: P::NAME.to_owned(),
            position,
        };
        let parked = self
            .dead_letters
            .list(&self.slot)
            .await?
            .into_iter()
            .find(|p| p.global_position == position)
            .ok_or_else(not_parked)?;
        let mut events = self.store.read_all(position, EventFilter::all());
        let event = match events.next().await {
            Some(Ok(event)) if event.global_position == position => event,
            Some(Err(error)) => return Err(error.into()),
            _ => return Err(not_parked()),
        };
        drop(events);
        let mut tx = self.backend.begin(self.options.lease_ttl).await?;
        // An operator's retry is not part of the event's transaction.
        match handle(
            &self.interceptors,
            &mut self.projection,
            &event,
            tx.as_mut(),
            true,
        )
        .await
        {
            Ok(()) => {
                // The checkpoint is already past this event; committing at
                // its position keeps it where it is.
                tx.commit(&self.slot, self.owner, Some(position))
                    .await
                    .map_err(|e| Interrupt::from(e).into_runner_error(P::NAME))?;
                self.dead_letters.remove(&self.slot, position).await?;
                self.publish(|s| s.processed += 1);
                Ok(())
            }
            Err(error) => {
                rollback(tx, P::NAME).await;
                let mut again = parked;
                again.attempts += 1;
                again.error = error.to_string();
                self.dead_letters.park(again).await?;
                Err(RunnerError::Handler {
                    name: P::NAME.to_owned(),
                    position,
                    source: Box::new(error),
                })
            }
        }
    }
}

#[derive(PartialEq, Eq)]
enum Flow {
    Stop,
    Restart,
    /// The runner holds more partitions than its share: release this one.
    Yield,
    /// A newer version took over.
    Retire,
}

/// How a wait for the lease ended.
enum Held {
    /// Taken, by a request made at this instant.
    Lease(tokio::time::Instant),
    Stop,
    /// A newer version took over, and this instance holds the lease: it
    /// retires the version.
    Retire,
    /// A newer version took over; another instance holds the lease.
    Superseded,
}

/// Runs the projection's handler between the interceptors, turning a
/// panic into an error. With the feature `opentelemetry` the handler runs in
/// a span joining the event's trace: as a child, or linked when `replay`
/// (see [`crate::telemetry`]).
async fn handle<P: Projection>(
    interceptors: &EventInterceptors,
    projection: &mut P,
    event: &RecordedEvent,
    tx: &mut (dyn ProjectionTx<P::Context> + 'static),
    replay: bool,
) -> Result<(), ProjectionError> {
    let info = EventInfo {
        processor: P::NAME,
        version: P::VERSION,
        record: event,
    };
    #[cfg(not(feature = "opentelemetry"))]
    let _ = replay;
    let mut decision = EventDecision::Handle;
    for interceptor in interceptors.iter() {
        match interceptor.before(&info).await {
            Ok(EventDecision::Handle) => {}
            Ok(EventDecision::Skip) => {
                decision = EventDecision::Skip;
                break;
            }
            Err(error) => {
                return Err(ProjectionError::Handler(
                    format!(
                        "interceptor `{}` failed the event: {error}",
                        interceptor.name()
                    )
                    .into(),
                ));
            }
        }
    }
    let result = match decision {
        EventDecision::Skip => Ok(()),
        EventDecision::Handle => {
            let run = projection.handle(event, tx.context());
            #[cfg(feature = "opentelemetry")]
            let run = {
                use crate::telemetry::{Join, processing_span};
                let join = if replay { Join::Link } else { Join::Child };
                tracing::Instrument::instrument(run, processing_span(P::NAME, event, join))
            };
            match AssertUnwindSafe(run).catch_unwind().await {
                Ok(result) => result.map(|_| ()),
                Err(panic) => Err(ProjectionError::Panicked(panic_message(&*panic))),
            }
        }
    };
    let handled = decision == EventDecision::Handle;
    for interceptor in interceptors.iter().rev() {
        interceptor
            .after(&info, handled, result.as_ref().map(|_| ()))
            .await;
    }
    result
}

/// The message a panic was raised with.
fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Waits for `turn`, if the worker shares one.
async fn take_turn(
    turn: Option<&tokio::sync::Mutex<()>>,
) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match turn {
        Some(turn) => Some(turn.lock().await),
        None => None,
    }
}

/// Resolves when `watch` changes; never without one (or once its sender is
/// gone, when the poll alone finds requests).
async fn changed(watch: &mut Option<watch::Receiver<u64>>) {
    if let Some(receiver) = watch {
        if receiver.changed().await.is_ok() {
            return;
        }
        *watch = None;
    }
    std::future::pending().await
}

/// Resolves when the lease held is lost; never without one.
async fn lease_lost(lease: &mut Option<LeaseKeeper>) {
    match lease {
        Some(lease) => lease.lost().await,
        None => std::future::pending().await,
    }
}

async fn rollback<C: ?Sized + Send>(tx: Box<dyn ProjectionTx<C>>, name: &str) {
    if let Err(error) = tx.rollback().await {
        tracing::warn!(projection = name, %error, "rollback failed");
    }
}
