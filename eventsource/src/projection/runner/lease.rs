//! Keeping a projection's lease alive while its worker is busy.
//!
//! The renewal runs in a task of its own rather than between batches, so
//! nothing the worker waits on (a long rebuild, retry backoff, a slow
//! handler) lets the lease lapse to a standby; and renewing never holds up
//! the worker. Commits stay fenced by the backend, so a lease lost anyway (a
//! paused process, a partition) cannot let two instances both commit.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

use crate::clock::Clock;
use crate::projection::ProjectionBackend;

/// Renews one lease every `period` until stopped or lost.
pub(super) struct LeaseKeeper {
    /// Until when the lease surely runs: the moment the last successful
    /// renewal was asked for, plus the TTL.
    valid_until: Arc<Mutex<Instant>>,
    clock: Clock,
    lost: watch::Receiver<bool>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// What the keeper needs to renew a lease.
pub(super) struct Lease<C: ?Sized + Send> {
    pub(super) backend: Arc<dyn ProjectionBackend<C>>,
    pub(super) name: Arc<str>,
    pub(super) owner: Uuid,
    pub(super) ttl: Duration,
    pub(super) period: Duration,
    pub(super) clock: Clock,
}

impl LeaseKeeper {
    /// Starts renewing a lease the caller has just taken.
    /// `asked` is when the caller asked for it.
    pub(super) fn start<C: ?Sized + Send + 'static>(lease: Lease<C>, asked: Instant) -> Self {
        let (lost_tx, lost) = watch::channel(false);
        let (stop, stop_rx) = oneshot::channel();
        let valid_until = Arc::new(Mutex::new(asked + lease.ttl));
        let clock = lease.clock.clone();
        let task = tokio::spawn(renew(lease, valid_until.clone(), lost_tx, stop_rx));
        Self {
            valid_until,
            clock,
            lost,
            stop,
            task,
        }
    }

    /// Whether another instance took the lease, or may have: no renewal
    /// got through for a TTL (a renewal stuck on a slow store, say), so
    /// another instance may hold it now. Work with effects outside the
    /// backend's fencing (a saga's commands) stops then, rather than run
    /// alongside the instance that took over.
    pub(super) fn is_lost(&self) -> bool {
        let valid_until = *self
            .valid_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *self.lost.borrow() || self.clock.instant() >= valid_until
    }

    /// Resolves once another instance took the lease (or the renewal task
    /// ended on its own, which leaves the lease unrenewed all the same).
    pub(super) async fn lost(&mut self) {
        let _ = self.lost.wait_for(|lost| *lost).await;
    }

    /// Stops renewing, after any renewal in flight: a renewal landing after
    /// the worker released the lease would keep standbys waiting a TTL.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "the lease renewal task ended abnormally");
        }
    }
}

async fn renew<C: ?Sized + Send + 'static>(
    lease: Lease<C>,
    valid_until: Arc<Mutex<Instant>>,
    lost: watch::Sender<bool>,
    mut stop: oneshot::Receiver<()>,
) {
    // The lease was just taken: the first renewal is due a period later.
    let mut ticks = lease
        .clock
        .interval_at(lease.clock.instant() + lease.period, lease.period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        // Biased: Tokio's random choice would make a seeded run depend on
        // the process's seed.
        tokio::select! {
            biased;
            _ = &mut stop => return,
            _ = ticks.tick() => {}
        }
        let asked = lease.clock.instant();
        match lease
            .backend
            .renew(&lease.name, lease.owner, lease.ttl)
            .await
        {
            Ok(true) => {
                *valid_until.lock().unwrap_or_else(PoisonError::into_inner) = asked + lease.ttl;
            }
            Ok(false) => {
                tracing::warn!(
                    projection = &*lease.name,
                    "lease lost: taken over or released since the last renewal"
                );
                lost.send_replace(true);
                return;
            }
            Err(error) => {
                // The lease still runs until its TTL; the next renewal may
                // get through, and commits are fenced if none does.
                tracing::warn!(projection = &*lease.name, %error, "cannot renew the lease");
            }
        }
    }
}
