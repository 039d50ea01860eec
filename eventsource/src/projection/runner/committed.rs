//! A projection's committed position, followed as it moves: what live
//! queries wake on.

use tokio::sync::watch;

use super::status::Published;

/// Follows the committed position of one projection in a runner (from
/// [`ProjectionRunner::committed`](super::ProjectionRunner::committed)).
///
/// Holds the latest value only: a follower that looks rarely sees the
/// newest position, never a backlog. Cheap to clone; each clone follows on
/// its own.
#[derive(Clone, Debug)]
pub struct CommittedPosition {
    status: watch::Receiver<Published>,
    seen: Option<u64>,
}

impl CommittedPosition {
    pub(super) fn new(status: watch::Receiver<Published>) -> Self {
        let seen = status.borrow().position;
        Self { status, seen }
    }

    /// The position committed now (`None`: nothing processed yet); it
    /// becomes the one [`CommittedPosition::changed`] compares with.
    pub fn current(&mut self) -> Option<u64> {
        self.seen = self.status.borrow_and_update().position;
        self.seen
    }

    /// Waits until the committed position differs from the one last seen,
    /// and returns it; `None` once the projection has stopped.
    pub async fn changed(&mut self) -> Option<Option<u64>> {
        let seen = self.seen;
        let position = self
            .status
            .wait_for(|published| published.position != seen)
            .await
            .ok()?
            .position;
        self.seen = position;
        Some(position)
    }
}
