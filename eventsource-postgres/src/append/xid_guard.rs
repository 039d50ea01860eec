//! The guard against a transaction-id counter that is behind the stored
//! positions (see "Moving a database" in the crate docs).

use std::sync::atomic::{AtomicBool, Ordering};

use eventsource::StoreError;
use sqlx::{PgConnection, Row};
use thiserror::Error;

use crate::error::store_error;
use crate::positions::transaction_of;
use crate::schema::Identifier;
use crate::sql::Sql;

/// The cluster's transaction-id counter is behind the events already
/// stored: new events would be numbered below positions that subscribers
/// and checkpoints have already passed, and nobody would ever read them.
///
/// Reported inside [`StoreError::Backend`] by
/// [`PgEventStore::migrate`](crate::PgEventStore::migrate),
/// [`PgEventStore::check_transaction_ids`](crate::PgEventStore::check_transaction_ids) and a store's first append; find
/// it with [`TransactionIdsBehind::in_error`].
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error(
    "the PostgreSQL cluster's transaction-id counter (next id {next_transaction_id}) is behind \
     the events stored in schema `{schema}` (highest position {highest_position}, written by \
     transaction {}): new events would be numbered below events that subscribers have already \
     passed, and they would skip them. This happens when a database is copied into another \
     cluster (pg_dump/pg_restore, logical replication) or the counter is reset (pg_resetwal, \
     a failover that lost commits). Before writing, move the counter past it: stop the server \
     cleanly, run `pg_resetwal -e {} <data directory>` (it only raises the id epoch), and \
     restart; see the eventsource-postgres docs, \"Moving a database\"",
    self.highest_transaction_id(),
    self.required_epoch()
)]
pub struct TransactionIdsBehind {
    /// The schema whose events are ahead.
    pub schema: String,
    /// The highest `global_position` stored.
    pub highest_position: u64,
    /// The next transaction id the cluster will hand out (64-bit, with epoch).
    pub next_transaction_id: u64,
}

impl TransactionIdsBehind {
    /// The (64-bit) id of the transaction that wrote the highest position.
    pub fn highest_transaction_id(&self) -> u64 {
        transaction_of(self.highest_position)
    }

    /// The smallest epoch for `pg_resetwal -e` that puts every new
    /// transaction id above [`Self::highest_transaction_id`].
    pub fn required_epoch(&self) -> u64 {
        (self.highest_transaction_id() >> 32) + 1
    }

    /// The guard's error inside `err`, if that is what `err` is.
    pub fn in_error(err: &StoreError) -> Option<&Self> {
        match err {
            StoreError::Backend(source) => source.downcast_ref(),
            _ => None,
        }
    }
}

/// Whether positions of transactions from `next_transaction_id` on all lie
/// above `highest_position`.
fn counter_ahead(next_transaction_id: u64, highest_position: u64) -> bool {
    transaction_of(highest_position) < next_transaction_id
}

/// The snapshot's `xmax` (the next transaction id) and the highest position:
/// `xmax`, not a new id, as checking must not consume transaction ids.
const XID_GUARD: &str = "\
SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint,
    (SELECT max(global_position) FROM {schema}.events)";

/// The check, and whether it passed for this store value (with its clones).
#[derive(Debug)]
pub(crate) struct XidGuard {
    statement: Sql,
    schema: Identifier,
    checked: AtomicBool,
}

impl XidGuard {
    pub(crate) fn new(schema: &Identifier) -> Self {
        Self {
            statement: Sql::new(XID_GUARD, schema),
            schema: schema.clone(),
            checked: AtomicBool::new(false),
        }
    }

    /// Runs the check on `conn` once per store value: again only after it
    /// failed, or after [`XidGuard::rearm_after`] saw a lost connection.
    pub(crate) async fn check_once(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        if self.checked.load(Ordering::Acquire) {
            return Ok(());
        }
        self.check(conn).await
    }

    /// A lost connection is how a running process sees its database move to
    /// another cluster (a switchover, a restore behind the same address):
    /// check again before the next append.
    pub(crate) fn rearm_after<T>(&self, result: &Result<T, StoreError>) {
        if matches!(result, Err(StoreError::Connection(_))) {
            self.checked.store(false, Ordering::Release);
        }
    }

    /// Runs the check on `conn`.
    pub(crate) async fn check(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        let row = sqlx::query(self.statement.get())
            .fetch_one(conn)
            .await
            .map_err(store_error)?;
        let next: i64 = row.try_get(0).map_err(store_error)?;
        let highest: Option<i64> = row.try_get(1).map_err(store_error)?;
        let next = u64::try_from(next).map_err(|_| {
            StoreError::Backend(format!("the server reported transaction id {next}").into())
        })?;
        // Positions are checked positive by the table, so a negative one
        // cannot be stored; none at all (an empty log) is always fine.
        let highest = highest.and_then(|h| u64::try_from(h).ok()).unwrap_or(0);
        if !counter_ahead(next, highest) {
            return Err(StoreError::Backend(Box::new(TransactionIdsBehind {
                schema: self.schema.as_str().to_owned(),
                highest_position: highest,
                next_transaction_id: next,
            })));
        }
        self.checked.store(true, Ordering::Release);
        Ok(())
    }

    /// The statement, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statement(&self) -> &Sql {
        &self.statement
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::positions::SLOTS;

    #[test]
    fn positions_of_the_next_transaction_must_lie_above_the_highest() {
        assert!(counter_ahead(1, 0));
        assert!(counter_ahead(10, 9 * SLOTS + SLOTS - 1));
        assert!(!counter_ahead(10, 10 * SLOTS));
        assert!(!counter_ahead(10, 10 * SLOTS + 1));
        assert!(!counter_ahead(10, 500 * SLOTS));
    }

    #[test]
    fn the_error_names_the_epoch_that_fixes_it() {
        let behind = TransactionIdsBehind {
            schema: "shop".into(),
            highest_position: ((3_u64 << 32) + 7) * SLOTS + 2,
            next_transaction_id: 1_000,
        };
        assert_eq!(behind.highest_transaction_id(), (3 << 32) + 7);
        assert_eq!(behind.required_epoch(), 4);
        assert!(counter_ahead(
            behind.required_epoch() << 32,
            behind.highest_position
        ));
        let text = behind.to_string();
        assert!(
            text.contains("`shop`") && text.contains("pg_resetwal -e 4"),
            "{text}"
        );
        let err = StoreError::Backend(Box::new(behind.clone()));
        assert_eq!(TransactionIdsBehind::in_error(&err), Some(&behind));
        assert_eq!(
            TransactionIdsBehind::in_error(&StoreError::invalid("x")),
            None
        );
    }
}
