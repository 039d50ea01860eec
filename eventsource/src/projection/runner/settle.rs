//! Waiting until processing settles: every projection and saga of a runner
//! has processed the log up to a position, and then up to whatever was
//! appended meanwhile, which includes the events of the commands sagas
//! dispatched because of those events.
//!
//! A saga dispatches its commands inside its handler, so once it has
//! processed an event, the events its commands produced are in the log. The
//! wait therefore goes in rounds: wait for every processor to reach the
//! target, read the head, and if the head moved, make it the next target.
//! It settles when a round ends with the head where it started. Unrelated
//! writes made meanwhile extend the wait too; the timeout bounds it.

use std::time::Duration;

use thiserror::Error;
use tokio::sync::watch;

use super::status::{ProjectionState, Published};
use crate::clock::Clock;
use crate::store::{EventStore, StoreError};

/// How processing settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settled {
    /// The position every projection and saga reached (at least the one
    /// asked for).
    pub position: u64,
    /// How many rounds it took (more than 1 when sagas, or other writers,
    /// appended events meanwhile).
    pub rounds: u32,
}

/// A projection or saga that had not reached its target when the wait
/// ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// Its name.
    pub name: &'static str,
    /// Its version.
    pub version: u32,
    /// The position it had processed up to (`None`: nothing yet).
    pub reached: Option<u64>,
    /// What it was in, when the wait ended.
    pub state: ProjectionState,
}

/// Why processing did not settle.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SettleError {
    /// The timeout passed first; `pending` says who was behind.
    #[error(
        "processing did not settle at position {target} within {timeout:?}; pending: {}",
        render(pending)
    )]
    Timeout {
        /// The position the last round waited for.
        target: u64,
        /// The timeout given.
        timeout: Duration,
        /// The projections and sagas still behind it.
        pending: Vec<Pending>,
    },
    /// A projection stopped for good while the wait went on.
    #[error("projection `{0}` stopped before processing settled")]
    Stopped(&'static str),
    /// Reading the head of the log failed.
    #[error("reading the head of the log failed: {0}")]
    Store(#[from] StoreError),
}

fn render(pending: &[Pending]) -> String {
    pending
        .iter()
        .map(|p| {
            let reached = p.reached.map_or("nothing".to_owned(), |r| r.to_string());
            format!("{} v{} at {reached} ({:?})", p.name, p.version, p.state)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The status of each projection of a runner, by name and version.
pub(super) type Watched = Vec<(&'static str, u32, watch::Receiver<Published>)>;

/// Waits in rounds (see the module docs) until the processors `watched`
/// lists reached `position` and the head of `store` stopped moving.
pub(super) async fn settle(
    watched: impl Fn() -> Watched,
    store: &dyn EventStore,
    clock: &Clock,
    position: u64,
    timeout: Duration,
) -> Result<Settled, SettleError> {
    let deadline = clock.instant() + timeout;
    let mut target = position;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let watched = watched();
        for (name, _, status) in &watched {
            let mut status = status.clone();
            let reached = clock
                .timeout(
                    deadline.saturating_duration_since(clock.instant()),
                    status.wait_for(|s| {
                        s.state == ProjectionState::Retired
                            || s.position.is_some_and(|p| p >= target)
                    }),
                )
                .await;
            match reached {
                Ok(Ok(_)) => {}
                Ok(Err(_)) => return Err(SettleError::Stopped(name)),
                Err(_) => {
                    return Err(SettleError::Timeout {
                        target,
                        timeout,
                        pending: pending(&watched, target),
                    });
                }
            }
        }
        let head = store.head_position().await?;
        if head <= target {
            return Ok(Settled {
                position: target,
                rounds,
            });
        }
        target = head;
    }
}

fn pending(watched: &Watched, target: u64) -> Vec<Pending> {
    watched
        .iter()
        .filter_map(|(name, version, status)| {
            let published = status.borrow();
            let behind = published.state != ProjectionState::Retired
                && published.position.is_none_or(|p| p < target);
            behind.then(|| Pending {
                name,
                version: *version,
                reached: published.position,
                state: published.state.clone(),
            })
        })
        .collect()
}
