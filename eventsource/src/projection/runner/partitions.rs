//! Partitioned projections: one worker per partition, and the fair share
//! of partitions this runner takes among the runners sharing them.
//!
//! Each runner running a partitioned projection is a *member* of its slot:
//! it renews a heartbeat in the backend (every renewal period, for a lease
//! TTL) and learns from it how many members are live. It then holds at most
//! `ceil(partitions / live)` partition leases: a partition's worker reserves
//! a place in the [`Share`] before it asks for the lease, and the worker of
//! the highest partition held gives its lease up when the runner holds more
//! than its share. The backend is the only coordinator: a member that joins
//! makes the others shrink their share, one that leaves (or dies, once its
//! heartbeat and leases have expired) makes them grow it and take over.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::select_all;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::status::{ProjectionState, Published};
use crate::clock::Clock;
use crate::event::RecordedEvent;
use crate::projection::{Projection, ProjectionBackend, ProjectionError};
use crate::store::PartitionFilter;

/// Where partition `partition` of a version keeps its checkpoint, lease
/// and parked events: the version's slot (see [`slot`](super::slot)) and
/// the partition, as `orders.summary#p3/8` or `orders.summary@v2#p3/8`.
///
/// ```
/// use eventsource::projection::partition_slot;
/// use eventsource::store::PartitionFilter;
///
/// let third = PartitionFilter::new(3, 8)?;
/// assert_eq!(partition_slot("orders.summary", third), "orders.summary#p3/8");
/// # Ok::<(), eventsource::store::InvalidPartition>(())
/// ```
pub fn partition_slot(slot: &str, partition: PartitionFilter) -> String {
    format!("{slot}#p{}/{}", partition.index(), partition.count())
}

/// The number of partitions a version records with its events, as a
/// marker among their names (the backends store one list): none for an
/// unpartitioned projection, so that its record is as before partitions.
pub(super) fn marker(partitions: u32) -> Option<String> {
    (partitions > 1).then(|| format!("#partitions={partitions}"))
}

/// The partitions a recorded list of events says (1 without a marker), and
/// the events without it.
pub(crate) fn recorded(events: &[String]) -> (u32, Vec<String>) {
    let mut partitions = 1;
    let mut names = Vec::with_capacity(events.len());
    for event in events {
        match event
            .strip_prefix("#partitions=")
            .and_then(|n| n.parse().ok())
        {
            Some(n) => partitions = n,
            None => names.push(event.clone()),
        }
    }
    (partitions, names)
}

/// How many partitions this runner may hold, and which it holds (or is
/// about to ask for).
#[derive(Debug)]
pub(super) struct Share {
    count: u32,
    state: Mutex<ShareState>,
    /// Set once the first heartbeat after the start has counted the live
    /// members (see [`Share::settled`]).
    settled: watch::Sender<bool>,
}

#[derive(Debug)]
struct ShareState {
    /// Live members, this one included (at least 1).
    live: u32,
    held: BTreeSet<u32>,
}

impl Share {
    pub(super) fn new(count: u32, live: u32) -> Self {
        Self {
            count,
            state: Mutex::new(ShareState {
                live: live.max(1),
                held: BTreeSet::new(),
            }),
            settled: watch::Sender::new(false),
        }
    }

    /// Says that a heartbeat after the start has counted the live members.
    fn settle(&self) {
        self.settled.send_replace(true);
    }

    /// Waits (at most `within`) until a heartbeat one period after the
    /// start has counted the live members. Instances started together then
    /// claim their fair share from the first: the first to start would
    /// otherwise count itself alone, take every partition, and hand the
    /// extras over one by one between units of work, while its peers wait.
    pub(super) async fn settled(&self, clock: &Clock, within: Duration) {
        let mut settled = self.settled.subscribe();
        // Past `within` the share is claimed with the count known so far.
        let _ = clock.timeout(within, settled.wait_for(|s| *s)).await;
    }

    /// How many partitions the projection has.
    pub(super) fn count(&self) -> u32 {
        self.count
    }

    fn state(&self) -> MutexGuard<'_, ShareState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn quota(&self, live: u32) -> usize {
        self.count.div_ceil(live.max(1)) as usize
    }

    /// The fair share: `ceil(partitions / live members)`.
    pub(super) fn fair(&self) -> usize {
        let live = self.state().live;
        self.quota(live)
    }

    pub(super) fn set_live(&self, live: u32) {
        self.state().live = live.max(1);
    }

    /// Reserves a place for `partition` if the runner holds less than its
    /// share (or holds it already).
    pub(super) fn reserve(&self, partition: u32) -> bool {
        let mut state = self.state();
        if state.held.contains(&partition) {
            return true;
        }
        if state.held.len() < self.quota(state.live) {
            state.held.insert(partition);
            true
        } else {
            false
        }
    }

    pub(super) fn unreserve(&self, partition: u32) {
        self.state().held.remove(&partition);
    }

    /// Whether `partition` should give its lease up: the runner holds more
    /// than its share and this is the highest partition it holds (one at a
    /// time, so the runner never drops below its share). Gives its place
    /// up when so.
    pub(super) fn should_yield(&self, partition: u32) -> bool {
        let mut state = self.state();
        let over = state.held.len() > self.quota(state.live);
        if over && state.held.last() == Some(&partition) {
            state.held.remove(&partition);
            true
        } else {
            false
        }
    }
}

/// The heartbeat of this runner as a member of a partitioned slot.
pub(super) struct Member {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// What the heartbeat needs.
pub(super) struct Membership<C: ?Sized + Send> {
    pub(super) backend: Arc<dyn ProjectionBackend<C>>,
    pub(super) slot: Arc<str>,
    pub(super) owner: Uuid,
    pub(super) ttl: Duration,
    pub(super) period: Duration,
    pub(super) clock: Clock,
    pub(super) share: Arc<Share>,
}

impl Member {
    /// Starts renewing the heartbeat (the caller made the first one).
    pub(super) fn start<C: ?Sized + Send + 'static>(membership: Membership<C>) -> Self {
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(beat(membership, stop_rx));
        Self { stop, task }
    }

    /// Stops the heartbeat and leaves the slot, so the others take over at once.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the membership task ended abnormally");
        }
    }

    /// Stops the heartbeat without leaving, as a killed process would.
    pub(super) fn abort(self) {
        self.task.abort();
    }
}

async fn beat<C: ?Sized + Send + 'static>(
    membership: Membership<C>,
    mut stop: oneshot::Receiver<()>,
) {
    let Membership {
        backend,
        slot,
        owner,
        ttl,
        period,
        clock,
        share,
    } = membership;
    let mut ticks = clock.interval_at(clock.instant() + period, period);
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            _ = ticks.tick() => {}
        }
        match backend.heartbeat(&slot, owner, ttl).await {
            Ok(live) => share.set_live(live),
            // The share stays as it was; the next beat may get through.
            Err(error) => tracing::warn!(slot = &*slot, %error, "cannot renew the membership"),
        }
        share.settle();
    }
    if let Err(error) = backend.leave(&slot, owner).await {
        tracing::warn!(slot = &*slot, %error, "cannot leave the partitioned projection");
    }
}

/// One projection shared by the workers of its partitions in one runner:
/// each handler call takes it in turn. Events of one stream are in one
/// partition, so their order holds; the workers' reads, commits and
/// waits still overlap.
pub(super) struct Shared<P>(pub(super) Arc<tokio::sync::Mutex<P>>);

#[async_trait]
impl<P: Projection> Projection for Shared<P> {
    const NAME: &'static str = P::NAME;
    const EVENTS: &'static [&'static str] = P::EVENTS;
    const TRANSACTIONAL: bool = P::TRANSACTIONAL;
    const RESETS: bool = P::RESETS;
    const VERSION: u32 = P::VERSION;
    const RETIRES: bool = P::RETIRES;
    const PARTITIONS: u32 = P::PARTITIONS;
    type Context = P::Context;

    async fn handle(
        &mut self,
        record: &RecordedEvent,
        context: &mut Self::Context,
    ) -> Result<bool, ProjectionError> {
        self.0.lock().await.handle(record, context).await
    }

    async fn reset(&mut self, context: &mut Self::Context) -> Result<(), ProjectionError> {
        self.0.lock().await.reset(context).await
    }

    async fn retire(&mut self, context: &mut Self::Context) -> Result<(), ProjectionError> {
        self.0.lock().await.retire(context).await
    }
}

/// Folds the statuses of a version's partitions into one, published on
/// `out` until every partition's worker has gone: the lowest position (all
/// partitions have processed the log up to it), the sum of events
/// processed, and the most pressing state.
pub(super) async fn fold(
    mut parts: Vec<watch::Receiver<Published>>,
    out: watch::Sender<Published>,
) {
    loop {
        let folded = folded(&parts);
        out.send_if_modified(|current| {
            let changed = *current != folded;
            *current = folded;
            changed
        });
        if parts.is_empty() {
            return;
        }
        let (changed, index, _) = select_all(parts.iter_mut().map(|p| Box::pin(p.changed()))).await;
        if changed.is_err() {
            // That worker is gone: its last status stays in the fold.
            let last = parts.remove(index);
            let last = last.borrow().clone();
            let rest = folded_with(&parts, &last);
            out.send_replace(rest);
            if parts.is_empty() {
                return;
            }
        }
    }
}

fn folded(parts: &[watch::Receiver<Published>]) -> Published {
    let all: Vec<Published> = parts.iter().map(|p| p.borrow().clone()).collect();
    fold_statuses(&all)
}

fn folded_with(parts: &[watch::Receiver<Published>], gone: &Published) -> Published {
    let mut all: Vec<Published> = parts.iter().map(|p| p.borrow().clone()).collect();
    all.push(gone.clone());
    fold_statuses(&all)
}

/// The most pressing state first: what an operator should see of the whole.
fn rank(state: &ProjectionState) -> u8 {
    match state {
        ProjectionState::Failed(_) => 0,
        ProjectionState::Rebuilding => 1,
        ProjectionState::Paused => 2,
        ProjectionState::CatchingUp => 3,
        ProjectionState::Starting => 4,
        ProjectionState::Live => 5,
        ProjectionState::Standby => 6,
        ProjectionState::Retired => 7,
        ProjectionState::Stopped => 8,
    }
}

pub(super) fn fold_statuses(all: &[Published]) -> Published {
    let Some(first) = all.first() else {
        return Published::default();
    };
    let position = all
        .iter()
        .map(|p| p.position)
        .try_fold(u64::MAX, |low, p| p.map(|p| low.min(p)));
    Published {
        state: all
            .iter()
            .map(|p| &p.state)
            .min_by_key(|s| rank(s))
            .cloned()
            .unwrap_or_else(|| first.state.clone()),
        active: all.iter().filter_map(|p| p.active).max(),
        position,
        processed: all.iter().map(|p| p.processed).sum(),
        last_error: all.iter().find_map(|p| p.last_error.clone()),
        owner: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_is_the_ceiling_and_the_highest_yields() {
        let share = Share::new(8, 1);
        for p in 0..8 {
            assert!(share.reserve(p));
        }
        share.set_live(3);
        assert_eq!(share.fair(), 3);
        assert!(!share.should_yield(3));
        assert!(share.should_yield(7));
        assert!(share.should_yield(6));
        assert!(share.should_yield(5));
        assert!(share.should_yield(4));
        assert!(share.should_yield(3));
        assert!(!share.should_yield(2));
        assert!(!share.reserve(7));
        share.set_live(2);
        assert!(share.reserve(7));
    }

    #[test]
    fn markers_round_trip() {
        assert_eq!(marker(1), None);
        let mut events = vec!["a".to_owned(), "b".to_owned()];
        events.extend(marker(8));
        assert_eq!(recorded(&events), (8, vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(recorded(&events[..2]), (1, events[..2].to_vec()));
    }
}
