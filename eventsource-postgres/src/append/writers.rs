//! Connections a store keeps for its own appends and aggregate loads,
//! between uses.
//!
//! sqlx tests every connection handed back to its pool with a round trip
//! (a `Sync`), so a statement on a pooled connection wakes the server twice.
//! With [`PgStoreOptions::with_writer_connections`](crate::PgStoreOptions::with_writer_connections)
//! the store detaches up to that many connections from the pool as appends
//! and loads need them and keeps them between uses instead of handing them
//! back. A command loads, then appends: the two never hold kept connections
//! at once, so one kept connection per concurrent writer serves both.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use eventsource::StoreError;
use sqlx::{PgConnection, PgPool};

use crate::error::store_error;

/// The store's kept connections.
#[derive(Debug)]
pub(crate) struct Writers {
    limit: usize,
    idle: Mutex<Vec<PgConnection>>,
    /// Kept connections, idle or in use.
    open: AtomicUsize,
}

impl Writers {
    pub(crate) fn new(limit: u32) -> Self {
        Self {
            limit: usize::try_from(limit).unwrap_or(usize::MAX),
            idle: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
        }
    }

    // Nothing is left half-changed under the lock, so a poisoned one is usable.
    fn idle(&self) -> MutexGuard<'_, Vec<PgConnection>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A kept connection: an idle one, or one detached from `pool` while
    /// fewer than the limit are kept. `None` when all are in use (or none
    /// are wanted): the caller uses a pooled connection.
    pub(crate) async fn take<'w>(
        &'w self,
        pool: &PgPool,
    ) -> Result<Option<Writer<'w>>, StoreError> {
        if self.limit == 0 {
            return Ok(None);
        }
        if let Some(conn) = self.idle().pop() {
            return Ok(Some(Writer::new(self, conn)));
        }
        let reserved = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok();
        if !reserved {
            return Ok(None);
        }
        // Detached rather than opened here, so the pool's own connection
        // setup (its `after_connect`) applies to kept connections too.
        match pool.acquire().await {
            Ok(pooled) => Ok(Some(Writer::new(self, pooled.detach()))),
            Err(error) => {
                self.open.fetch_sub(1, Ordering::AcqRel);
                Err(store_error(error))
            }
        }
    }
}

/// A kept connection in use. Dropped without [`Writer::keep`] (after an
/// error, or when the append or load was cancelled mid-statement and the
/// connection's state is unknown), it is closed.
pub(crate) struct Writer<'w> {
    writers: &'w Writers,
    conn: Option<PgConnection>,
}

impl<'w> Writer<'w> {
    fn new(writers: &'w Writers, conn: PgConnection) -> Self {
        Self {
            writers,
            conn: Some(conn),
        }
    }

    pub(crate) fn conn(&mut self) -> Option<&mut PgConnection> {
        self.conn.as_mut()
    }

    /// Puts the connection back for the next append or load.
    pub(crate) fn keep(mut self) {
        if let Some(conn) = self.conn.take() {
            self.writers.idle().push(conn);
        }
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        if self.conn.take().is_some() {
            self.writers.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
