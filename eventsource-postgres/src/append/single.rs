//! One append in one transaction: the statement run until it is written or
//! refused for good, with the rules for retries and replays; and the
//! store's own append, as a statement of its own on a connection of the
//! store's.

use std::sync::Arc;

use eventsource::store::AppendResult;
use eventsource::{ExpectedVersion, StoreError};
use sqlx::{PgConnection, PgPool};

use super::statement::{self, Outcome, Refusal, Replay, Request, Statements};
use super::writers::Writers;
use super::xid_guard::XidGuard;
use crate::error::store_error;
use crate::notify::Notifications;

/// How often the store's own append is re-run after losing a race: for its
/// version (`Any` only), or for its place in the global order (see
/// `Refusal::Order`). Each loss means another append committed, so the store
/// as a whole always progresses; the bound only stops one unlucky caller
/// from spinning forever.
const ANY_ATTEMPTS: u32 = 64;

/// Whose transaction an append runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Transaction {
    /// The store's own: a connection in autocommit mode, where the
    /// statement is the transaction.
    Own,
    /// The caller's, which any error aborts.
    Callers,
}

/// What the store needs to run an append: its statements, connections,
/// transaction-id guard and subscribers to wake.
#[derive(Debug)]
pub(crate) struct Appender {
    pool: PgPool,
    statements: Statements,
    /// Connections kept for appends (see `writers`), shared with the loads.
    writers: Arc<Writers>,
    xid: Arc<XidGuard>,
    notifications: Arc<Notifications>,
}

impl Appender {
    pub(super) fn new(
        pool: PgPool,
        statements: Statements,
        writers: Arc<Writers>,
        xid: Arc<XidGuard>,
        notifications: Arc<Notifications>,
    ) -> Self {
        Self {
            pool,
            statements,
            writers,
            xid,
            notifications,
        }
    }

    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(super) fn writers(&self) -> &Arc<Writers> {
        &self.writers
    }

    pub(super) fn xid(&self) -> &XidGuard {
        &self.xid
    }

    #[cfg(test)]
    pub(super) fn statements(&self) -> &Statements {
        &self.statements
    }

    /// Wakes this store's subscribers and other processes'.
    pub(super) fn committed(&self) {
        self.notifications.committed(&self.pool);
    }

    /// The store's own append as a statement of its own: on a kept writer
    /// connection when the store has one to spare (see `writers`), otherwise
    /// on a pooled connection. `retried`: an earlier attempt may have
    /// committed it.
    pub(super) async fn run(
        &self,
        request: &Request<'_>,
        mut retried: bool,
    ) -> Result<AppendResult, StoreError> {
        let result = match self.writers.take(&self.pool).await? {
            Some(mut writer) => {
                let result = match writer.conn() {
                    Some(conn) => self.guarded(conn, request).await,
                    None => self.on_pooled_connection(request).await,
                };
                match result {
                    // A kept connection may have died while idle; the writer
                    // is dropped (closed), and the append runs again on the
                    // pool. If the first attempt did commit, the second finds
                    // its ids and reports a replay.
                    Err(StoreError::Connection(_)) => {
                        drop(writer);
                        retried = true;
                        self.on_pooled_connection(request).await
                    }
                    // Answers the store gives on a healthy connection;
                    // anything else (a backend failure) leaves the
                    // connection's state in doubt, so it is closed.
                    result @ (Ok(_)
                    | Err(
                        StoreError::Conflict { .. }
                        | StoreError::Invalid(_)
                        | StoreError::DuplicateEvent { .. },
                    )) => {
                        writer.keep();
                        result
                    }
                    failed => failed,
                }
            }
            None => self.on_pooled_connection(request).await,
        };
        let result = result?;
        if (retried || !result.replayed) && !request.ids.is_empty() {
            self.committed();
        }
        Ok(result)
    }

    /// The store's own append on a connection from the pool.
    async fn on_pooled_connection(
        &self,
        request: &Request<'_>,
    ) -> Result<AppendResult, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        self.guarded(&mut conn, request).await
    }

    /// The store's own append on `conn`, behind the transaction-id guard.
    async fn guarded(
        &self,
        conn: &mut PgConnection,
        request: &Request<'_>,
    ) -> Result<AppendResult, StoreError> {
        self.xid.check_once(conn).await?;
        let result = self.append_on(conn, request, Transaction::Own).await;
        self.xid.rearm_after(&result);
        result
    }

    /// An append inside the caller's transaction `conn`, behind the guard.
    pub(super) async fn in_callers_transaction(
        &self,
        conn: &mut PgConnection,
        request: &Request<'_>,
    ) -> Result<AppendResult, StoreError> {
        self.xid.check_once(conn).await?;
        let result = self.append_on(conn, request, Transaction::Callers).await;
        self.xid.rearm_after(&result);
        result
    }

    /// Runs the statement until the batch is written, found already
    /// written, or refused for good.
    async fn append_on(
        &self,
        conn: &mut PgConnection,
        request: &Request<'_>,
        transaction: Transaction,
    ) -> Result<AppendResult, StoreError> {
        let q = &self.statements;
        if request.ids.is_empty() {
            return empty(q, conn, request).await;
        }
        let own = transaction == Transaction::Own;
        let mut attempt = 1;
        loop {
            match statement::insert(q, conn, request, own).await? {
                Outcome::Written(result) => return Ok(result),
                Outcome::Refused { actual, why } => {
                    // The transaction is intact: its own earlier appends count.
                    if let Some(replay) = statement::replayed(q, conn, request).await? {
                        return answer(replay, request, transaction, false);
                    }
                    // Our own statement is its whole transaction, so a new
                    // attempt gets a new id, above the stream's last writer's.
                    let retry = matches!(why, Refusal::Order) && own && attempt < ANY_ATTEMPTS;
                    if !retry {
                        return Err(why.into_error(request, actual));
                    }
                    attempt += 1;
                }
                Outcome::Taken {
                    version_key,
                    source,
                } => {
                    // The rows we collided with are committed, so any
                    // connection sees them; the caller's transaction is
                    // aborted, so use the pool.
                    let mut pooled;
                    let follow_up: &mut PgConnection = match transaction {
                        Transaction::Own => conn,
                        Transaction::Callers => {
                            pooled = self.pool.acquire().await.map_err(store_error)?;
                            &mut pooled
                        }
                    };
                    if let Some(replay) = statement::replayed(q, follow_up, request).await? {
                        return answer(replay, request, transaction, true);
                    }
                    if !version_key {
                        return Err(StoreError::Backend(Box::new(source)));
                    }
                    let retry =
                        request.expected == ExpectedVersion::Any && own && attempt < ANY_ATTEMPTS;
                    if !retry {
                        let actual =
                            statement::stream_head(q, follow_up, request.stream_id).await?;
                        return Err(request.conflict(actual.map(|(v, _, _)| v)));
                    }
                    attempt += 1;
                }
            }
        }
    }

    /// The version of the last event of `stream_id`, on a pooled connection.
    pub(super) async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        let head = statement::stream_head(&self.statements, &mut conn, stream_id).await?;
        Ok(head.map(|(version, _, _)| version))
    }
}

/// An empty batch: check the expectation, write nothing.
async fn empty(
    q: &Statements,
    conn: &mut PgConnection,
    request: &Request<'_>,
) -> Result<AppendResult, StoreError> {
    let head = statement::stream_head(q, conn, request.stream_id).await?;
    if head.is_some_and(|(_, _, deleted)| deleted) {
        return Err(StoreError::StreamDeleted {
            stream_id: request.stream_id.into(),
        });
    }
    let version = head.map(|(v, _, _)| v);
    if !request.expected.is_satisfied_by(version) {
        return Err(request.conflict(version));
    }
    let (version, position, _) = head.unwrap_or((0, 0, false));
    Ok(AppendResult {
        first_version: version,
        last_version: version,
        first_position: position,
        last_position: position,
        replayed: false,
    })
}

/// The answer to a retried append whose batch `replay` found stored. A
/// store-owned statement has no other writes to worry about; in a caller's
/// transaction only its own earlier append is a harmless replay, since
/// anything else means a committed transaction already did this work (see
/// `append_in`).
fn answer(
    replay: Replay,
    request: &Request<'_>,
    transaction: Transaction,
    aborted: bool,
) -> Result<AppendResult, StoreError> {
    if transaction == Transaction::Callers && !replay.ours {
        return Err(StoreError::AlreadyStored {
            stream_id: request.stream_id.into(),
            stored: replay.result,
            transaction_aborted: aborted,
        });
    }
    Ok(replay.result)
}
