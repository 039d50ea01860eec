//! [`PgEventStore`]: construction, migrations and accessors.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use eventsource::StoreError;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::append::group::GroupCommit;
use crate::append::writers::Writers;
use crate::error::store_error;
use crate::migrate;
use crate::notify::Wake;
use crate::options::PgStoreOptions;
use crate::processing_sql::ProcessingSql;
use crate::sql::Queries;

/// An event store, snapshot store and checkpoint store on PostgreSQL.
///
/// Cloning is cheap and gives another handle to the same store (the same
/// pool, and the same in-process wake-ups for subscriptions).
///
/// ```no_run
/// use eventsource::store::{EventStore, ExpectedVersion};
/// use eventsource::{Metadata, NewEvent};
/// use eventsource_postgres::{PgEventStore, PgStoreOptions};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = sqlx::PgPool::connect("postgres://localhost/app").await?;
/// let store = PgEventStore::with_options(pool, PgStoreOptions::new("shop")?);
/// store.migrate().await?;
///
/// let event = NewEvent::new("shop.OrderPlaced", 1, r#"{"total":42}"#, Metadata::new());
/// let done = store
///     .append("order-1", "shop.Order", ExpectedVersion::NoStream, vec![event])
///     .await?;
/// assert_eq!(done.last_version, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct PgEventStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) pool: PgPool,
    pub(crate) options: PgStoreOptions,
    pub(crate) sql: Queries,
    pub(crate) processing: Arc<ProcessingSql>,
    pub(crate) wake: Wake,
    /// Whether the transaction-id guard passed (see `xid_guard`).
    pub(crate) xid_checked: AtomicBool,
    /// Connections kept for appends (see `writers`).
    pub(crate) writers: Writers,
    /// The queue of appends waiting to share a statement (see `group`).
    pub(crate) group: GroupCommit,
}

impl PgEventStore {
    /// A store on `pool` with [`PgStoreOptions::default`] (schema `eventsource`).
    pub fn new(pool: PgPool) -> Self {
        Self::with_options(pool, PgStoreOptions::default())
    }

    /// A store on `pool` with `options`. Nothing is sent to the database
    /// until the first call; run [`PgEventStore::migrate`] once before use.
    ///
    /// For throughput, build the pool with
    /// [`test_before_acquire(false)`](sqlx::pool::PoolOptions::test_before_acquire):
    /// sqlx otherwise pings every connection it hands out, doubling the
    /// round trips of an append.
    pub fn with_options(pool: PgPool, options: PgStoreOptions) -> Self {
        Self {
            inner: Arc::new(Inner {
                sql: Queries::new(options.schema()),
                processing: Arc::new(ProcessingSql::new(options.schema())),
                wake: Wake::new(options.notify_channel().cloned()),
                xid_checked: AtomicBool::new(false),
                writers: Writers::new(options.writer_connections()),
                group: GroupCommit::new(options.group_commit()),
                pool,
                options,
            }),
        }
    }

    /// Connects a pool of up to 10 connections to `url`, with default options.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PgStoreOptions::default()).await
    }

    /// Connects a pool of up to 10 connections to `url`, with `options`.
    ///
    /// The pool does not ping a connection before handing it out (sqlx's
    /// default does, costing a round trip per operation); a connection that
    /// died while idle fails one request with [`StoreError::Connection`]
    /// and is replaced. Build the pool yourself for other settings.
    pub async fn connect_with(url: &str, options: PgStoreOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .test_before_acquire(false)
            .connect(url)
            .await
            .map_err(store_error)?;
        Ok(Self::with_options(pool, options))
    }

    /// Creates the schema and applies the migrations it lacks, then checks
    /// that the cluster's transaction ids are ahead of the stored positions
    /// ([`PgEventStore::check_transaction_ids`]).
    ///
    /// Idempotent, and safe to run from several processes at once (they
    /// queue on an advisory lock). Returns the migration versions it applied.
    /// A failed check is reported after the migrations committed, as
    /// [`TransactionIdsBehind`](crate::TransactionIdsBehind) inside
    /// [`StoreError::Backend`]: the schema is fine, the cluster is not.
    pub async fn migrate(&self) -> Result<Vec<i32>, StoreError> {
        let applied = migrate::run(&self.inner.pool, self.inner.options.schema()).await?;
        self.check_transaction_ids().await?;
        Ok(applied)
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        self.inner.options.schema().as_str()
    }

    /// The options the store was built with.
    pub fn options(&self) -> &PgStoreOptions {
        &self.inner.options
    }

    /// Wakes subscriptions after events were committed some other way than
    /// [`EventStore::append`](eventsource::EventStore::append) — typically
    /// after committing a transaction used with [`PgEventStore::append_in`].
    ///
    /// Optional: subscriptions find such events by polling anyway.
    pub fn wake_subscribers(&self) {
        self.inner.wake.committed(&self.inner.pool);
    }
}

impl fmt::Debug for PgEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgEventStore")
            .field("schema", &self.schema())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}
