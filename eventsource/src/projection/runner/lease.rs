//! Keeping a projection's lease alive while its worker is busy.
//!
//! The renewal runs in a task of its own rather than between batches, so
//! nothing the worker waits on (a long rebuild, retry backoff, a slow
//! handler) lets the lease lapse to a standby; and renewing never holds up
//! the worker. Commits stay fenced by the backend, so a lease lost anyway (a
//! paused process, a partition) cannot let two instances both commit.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use uuid::Uuid;

use crate::clock::Clock;
use crate::projection::ProjectionBackend;

/// Renews one lease every `period` until stopped or lost.
pub(super) struct LeaseKeeper {
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
    pub(super) fn start<C: ?Sized + Send + 'static>(lease: Lease<C>) -> Self {
        let (lost_tx, lost) = watch::channel(false);
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(renew(lease, lost_tx, stop_rx));
        Self { lost, stop, task }
    }

    /// Whether another instance took the lease.
    pub(super) fn is_lost(&self) -> bool {
        *self.lost.borrow()
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
        match lease
            .backend
            .acquire(&lease.name, lease.owner, lease.ttl)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    projection = &*lease.name,
                    "lease taken over by another instance"
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
