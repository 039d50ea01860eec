//! Appending: one statement per batch, version rules, idempotent retries.
//!
//! This file is the only entry. Below it, each part depends only on the
//! parts further down:
//! - `group`: concurrent appends sharing a statement (group commit), each
//!   falling back to a statement of its own;
//! - `single`: one append in one transaction, with its retries and replays,
//!   on a kept writer connection, a pooled one or the caller's transaction;
//! - `writers`: the connections kept for appends (and lent to aggregate
//!   loads); `xid_guard`: the check that the transaction-id counter is
//!   ahead of the stored positions;
//! - `statement`: the request and its SQL, at the bottom.

mod group;
mod single;
mod statement;
mod writers;
mod xid_guard;

use std::sync::Arc;

use eventsource::store::AppendResult;
use eventsource::{ExpectedVersion, NewEvent, StoreError};
use sqlx::{PgConnection, PgPool};

use crate::notify::Notifications;
use crate::options::PgStoreOptions;
use crate::scope::Scope;
use group::{Answer, GroupCommit};
use single::Appender;
use statement::{Request, Statements};

pub(crate) use writers::{Writer, Writers};
pub use xid_guard::TransactionIdsBehind;
pub(crate) use xid_guard::XidGuard;

/// The appends of one store (and its clones).
#[derive(Debug)]
pub(crate) struct Appends {
    appender: Arc<Appender>,
    /// The queue of appends waiting to share a statement.
    group: Arc<GroupCommit>,
    /// The tenant every appended event is stamped with.
    scope: Scope,
}

impl Appends {
    pub(crate) fn new(
        pool: PgPool,
        options: &PgStoreOptions,
        xid: Arc<XidGuard>,
        notifications: Arc<Notifications>,
    ) -> Self {
        let schema = options.schema();
        Self {
            appender: Arc::new(Appender::new(
                pool,
                Statements::new(schema),
                Arc::new(Writers::new(options.writer_connections())),
                xid,
                notifications,
            )),
            group: Arc::new(GroupCommit::new(options.group_commit(), schema)),
            scope: options.scope().clone(),
        }
    }

    /// The store's own append: shared with concurrent ones when the store
    /// groups commits, otherwise a statement of its own.
    pub(crate) async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult, StoreError> {
        let stamped = self.scope.stamp(events, |events| {
            Request::new(stream_id, aggregate_type, expected, events).map(drop)
        })?;
        let events = &*stamped;
        let request = Request::new(stream_id, aggregate_type, expected, events)?;
        let attempted = match group::submit(&self.appender, &self.group, &request, events).await {
            Some(Answer::Done(result)) => return result,
            Some(Answer::RunSeparately { attempted }) => attempted,
            None => false,
        };
        self.appender.run(&request, attempted).await
    }

    /// An append inside the caller's transaction `conn` (see
    /// [`PgEventStore::append_in`](crate::PgEventStore::append_in)).
    pub(crate) async fn append_in(
        &self,
        conn: &mut PgConnection,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult, StoreError> {
        let stamped = self.scope.stamp(events, |events| {
            Request::new(stream_id, aggregate_type, expected, events).map(drop)
        })?;
        let events = &*stamped;
        self.scope.enter(conn).await?;
        let request = Request::new(stream_id, aggregate_type, expected, events)?;
        self.appender.in_callers_transaction(conn, &request).await
    }

    /// The connections the store keeps (see `writers`), which its aggregate
    /// loads on the primary borrow too.
    pub(crate) fn kept_connections(&self) -> Arc<Writers> {
        self.appender.writers().clone()
    }

    /// The version of the last event of `stream_id`.
    pub(crate) async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.appender.stream_version(stream_id).await
    }

    /// Every statement of the appends, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> Vec<(&'static str, &crate::sql::Sql)> {
        let mut all = self.appender.statements().all();
        all.push(("append_group", self.group.statement()));
        all.push(("xid_guard", self.appender.xid().statement()));
        all
    }
}
