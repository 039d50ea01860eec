//! The store: [`PgEventStore`], its parts, and the storage traits it
//! implements, each delegating to the part that does the work (`append`,
//! `read`, `snapshots`, `checkpoints`, `processing`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use eventsource::RecordedEvent;
use eventsource::store::{
    AppendResult, ArchiveStatus, ArchivedStream, CheckpointStore, DeleteMode, Deletion,
    EventFilter, EventStream, RecordFields, Snapshot, SnapshotHome, SnapshotStore, SnapshotWanted,
    StoredEventType, StreamLoad, StreamQuery, StreamSummary, Subscription, Truncation,
};
use eventsource::{EventStore, ExpectedVersion, NewEvent, StoreError};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;

use crate::append::{Appends, XidGuard};
use crate::archive::Archiver;
use crate::checkpoints::Checkpoints;
use crate::error::store_error;
use crate::keys::PgKeyStore;
use crate::lifecycle::Lifecycle;
use crate::migrate;
use crate::notify::Notifications;
use crate::options::PgStoreOptions;
use crate::processing::{
    PgControlStore, PgDeadLetterStore, PgProjectionBackend, PgSagaStore, controls, dead_letters,
    projections, sagas,
};
use crate::read::archive::{self as archive_reads, ArchiveReads};
use crate::read::summary::Summaries;
use crate::read::{self, Reads, loads, subscribe};
use crate::replica::ReplicaReads;
use crate::snapshots::Snapshots;

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
    pool: PgPool,
    options: Arc<PgStoreOptions>,
    appends: Arc<Appends>,
    /// The global log's reads: on the standby when there is one.
    reads: Arc<Reads>,
    /// Stream reads (aggregate loads): where [`ReplicaReads`] says.
    loads: Arc<Reads>,
    snapshots: Arc<Snapshots>,
    /// Snapshot loads: where [`ReplicaReads`] says.
    snapshot_loads: Arc<Snapshots>,
    /// The standby's pool and what reads it serves, if there is one.
    replica: Option<(PgPool, ReplicaReads)>,
    checkpoints: Arc<Checkpoints>,
    notifications: Arc<Notifications>,
    /// Wake-ups of runners and operators when control requests change.
    controls: Arc<Notifications>,
    summaries: Arc<Summaries>,
    lifecycle: Arc<Lifecycle>,
    archiver: Arc<Archiver>,
    archive_reads: Arc<ArchiveReads>,
    /// Whether the transaction-id guard passed (see `append::xid_guard`).
    xid: Arc<XidGuard>,
    /// Names this store's snapshots, so that a load whose snapshot store
    /// is this store reads the snapshot and the events in one statement.
    /// A fresh one whenever the snapshot reads move (`with_replica`).
    snapshot_home: SnapshotHome,
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
        let schema = options.schema();
        let notifications = Arc::new(Notifications::new(
            options.notify_channel().cloned(),
            options.clock().clone(),
        ));
        let xid = Arc::new(XidGuard::new(schema));
        let controls = Arc::new(Notifications::new(
            options.notify_channel().map(|c| c.prefixed("ctl_")),
            options.clock().clone(),
        ));
        let appends = Arc::new(Appends::new(
            pool.clone(),
            &options,
            xid.clone(),
            notifications.clone(),
        ));
        let reads = Arc::new(
            Reads::new(
                pool.clone(),
                pool.clone(),
                false,
                options.clone(),
                notifications.clone(),
                xid.clone(),
            )
            .with_kept_connections(appends.kept_connections()),
        );
        let snapshots = Arc::new(Snapshots::new(pool.clone(), schema));
        Self {
            lifecycle: Arc::new(Lifecycle::new(
                pool.clone(),
                schema,
                appends.clone(),
                notifications.clone(),
                options.clock().clone(),
            )),
            appends,
            reads: reads.clone(),
            loads: reads,
            snapshots: snapshots.clone(),
            snapshot_loads: snapshots,
            replica: None,
            archiver: Arc::new(Archiver::new(pool.clone(), schema)),
            archive_reads: Arc::new(ArchiveReads::new(pool.clone(), schema, options.page_size())),
            checkpoints: Arc::new(Checkpoints::new(pool.clone(), schema)),
            summaries: Arc::new(Summaries::new(pool.clone(), schema)),
            controls,
            notifications,
            xid,
            pool,
            options: Arc::new(options),
            snapshot_home: SnapshotHome::new(),
        }
    }

    /// This store, reading from a hot standby of its primary what `reads`
    /// names; every write stays on the primary (see [`ReplicaReads`]).
    ///
    /// `standby` must reach *one* standby server (not a balancer over
    /// several): a reader takes the gap-free horizon and the rows below it
    /// on one connection, which is safe on any one server, and moves on
    /// only from what it delivered, so readers survive a standby that
    /// restarts or a pool that reconnects elsewhere; but a standby further
    /// behind than the one a subscription last read from makes it wait
    /// until that one catches up. Subscriptions `LISTEN` on the primary
    /// (a standby cannot), and re-check the standby for a moment after each
    /// notification, since it applies the announced commits a little later.
    ///
    /// ```no_run
    /// use eventsource_postgres::{PgEventStore, PgStoreOptions, ReplicaReads};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let primary = sqlx::PgPool::connect("postgres://app@primary/app").await?;
    /// let standby = sqlx::PgPool::connect("postgres://app@standby/app").await?;
    /// let store = PgEventStore::with_options(primary, PgStoreOptions::new("shop")?)
    ///     .with_replica(standby, ReplicaReads::GlobalLog);
    /// assert!(store.replica().is_some());
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_replica(mut self, standby: PgPool, reads: ReplicaReads) -> Self {
        let log = Arc::new(Reads::new(
            standby.clone(),
            self.pool.clone(),
            true,
            (*self.options).clone(),
            self.notifications.clone(),
            self.xid.clone(),
        ));
        if reads.loads_on_replica() {
            self.loads = log.clone();
            self.snapshot_loads = Arc::new(Snapshots::new(standby.clone(), self.options.schema()));
        } else {
            // Built again, not taken from `self.reads`: that may already be
            // an earlier standby's.
            self.loads = Arc::new(
                Reads::new(
                    self.pool.clone(),
                    self.pool.clone(),
                    false,
                    (*self.options).clone(),
                    self.notifications.clone(),
                    self.xid.clone(),
                )
                .with_kept_connections(self.appends.kept_connections()),
            );
            self.snapshot_loads = self.snapshots.clone();
        }
        self.reads = log;
        self.summaries = Arc::new(Summaries::new(standby.clone(), self.options.schema()));
        self.replica = Some((standby, reads));
        // The events and the snapshots a load reads together must come from
        // the same server: clones made before this point read elsewhere.
        self.snapshot_home = SnapshotHome::new();
        self
    }

    /// The standby's pool and what it serves, when reads go to one.
    pub fn replica(&self) -> Option<(&PgPool, ReplicaReads)> {
        self.replica.as_ref().map(|(pool, reads)| (pool, *reads))
    }

    /// Connects to a primary and one of its hot standbys (pools of up to 10
    /// connections each, as [`PgEventStore::connect_with`]), reading from
    /// the standby what `reads` names.
    pub async fn connect_with_replica(
        primary_url: &str,
        standby_url: &str,
        options: PgStoreOptions,
        reads: ReplicaReads,
    ) -> Result<Self, StoreError> {
        let primary = Self::connect_with(primary_url, options).await?;
        let standby = crate::nodelay::pool_options(10)
            .connect(standby_url)
            .await
            .map_err(store_error)?;
        Ok(primary.with_replica(standby, reads))
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
    /// and is replaced. Each new connection gets `TCP_NODELAY`
    /// ([`tcp_nodelay`](crate::tcp_nodelay)). Build the pool yourself for
    /// other settings.
    pub async fn connect_with(url: &str, options: PgStoreOptions) -> Result<Self, StoreError> {
        let pool = crate::nodelay::pool_options(10)
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
        let applied = migrate::run(&self.pool, self.options.schema()).await?;
        self.check_transaction_ids().await?;
        Ok(applied)
    }

    /// Checks that the cluster's transaction-id counter is ahead of every
    /// stored position, as the gap-free order needs.
    ///
    /// [`PgEventStore::migrate`] runs this check, and so does each store
    /// value (with its clones) before its first append and again after an
    /// append lost its connection; call it yourself, say from a health
    /// check, to catch a database moved to another cluster under a running
    /// process without a dropped connection. One cheap query: the
    /// snapshot's `xmax` and the primary key's largest value.
    pub async fn check_transaction_ids(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        self.xid.check(&mut conn).await
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        self.options.schema().as_str()
    }

    /// The options the store was built with.
    pub fn options(&self) -> &PgStoreOptions {
        &self.options
    }

    /// Wakes subscriptions after events were committed some other way than
    /// [`EventStore::append`](eventsource::EventStore::append) — typically
    /// after committing a transaction used with [`PgEventStore::append_in`].
    ///
    /// Optional: subscriptions find such events by polling anyway.
    pub fn wake_subscribers(&self) {
        self.notifications.committed(&self.pool);
    }

    /// Appends like [`EventStore::append`](eventsource::EventStore::append),
    /// inside a transaction the caller controls.
    ///
    /// The same statement as the store's own append, so the same rules hold,
    /// and the events become visible (to reads and subscriptions) when the
    /// caller commits. Call [`PgEventStore::wake_subscribers`] after the
    /// commit to deliver them at once rather than at the next poll.
    ///
    /// Differences from `append`, all because the caller owns the transaction:
    /// - a retried batch that an earlier transaction already committed is
    ///   not a replayed success but [`StoreError::AlreadyStored`], carrying
    ///   the stored positions. That earlier transaction committed its other
    ///   writes too, so this one's are most likely repeats; roll it back.
    ///   Usually the append notices before writing and the transaction stays
    ///   intact (`transaction_aborted: false`). When the earlier transaction
    ///   was still in flight, the insert waits for it and then collides with
    ///   its rows, which makes PostgreSQL abort this transaction
    ///   (`transaction_aborted: true`): a `COMMIT` would silently roll back.
    ///   A batch this same transaction already appended is a replay as
    ///   usual (`replayed: true`), since it commits or rolls back with it;
    /// - a lost race for a stream version aborts the transaction (PostgreSQL
    ///   does so on any error), so it is reported as a conflict even with
    ///   [`ExpectedVersion::Any`], and the caller must retry in a new one;
    ///   so is a deadlock with another transaction appending to the same
    ///   streams in the opposite order, and a
    ///   [`StoreError::DuplicateEvent`] found only at insert time;
    /// - appending to a stream whose last event was written by a younger
    ///   transaction is refused with [`StoreError::Invalid`], since this
    ///   transaction's positions are lower and would put the new version
    ///   before the old one in the global order (only possible when the
    ///   transaction wrote something before it read the stream);
    /// - one transaction may append at most 65,535 events in total.
    ///
    /// ```no_run
    /// # use eventsource::{ExpectedVersion, Metadata, NewEvent};
    /// # async fn demo(store: eventsource_postgres::PgEventStore) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut tx = store.pool().begin().await?;
    /// sqlx::query("UPDATE shop.stock SET reserved = reserved + 1 WHERE sku = 'a1'")
    ///     .execute(&mut *tx)
    ///     .await?;
    /// let event = NewEvent::new("shop.Reserved", 1, r#"{"sku":"a1"}"#, Metadata::new());
    /// store
    ///     .append_in(&mut tx, "stock-a1", "shop.Stock", ExpectedVersion::Any, vec![event])
    ///     .await?;
    /// tx.commit().await?;
    /// store.wake_subscribers();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn append_in(
        &self,
        conn: &mut PgConnection,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.appends
            .append_in(conn, stream_id, aggregate_type, expected, &events)
            .await
    }

    /// Saves a checkpoint inside the caller's transaction, so a projection
    /// can commit its read-model change and its position together (no event
    /// applied twice after a crash). Like [`CheckpointStore::save`], it never
    /// moves a checkpoint backwards.
    pub async fn save_checkpoint_in(
        &self,
        conn: &mut PgConnection,
        name: &str,
        position: u64,
    ) -> Result<(), StoreError> {
        self.checkpoints.save_in(conn, name, position).await
    }

    /// Forgets a checkpoint inside the caller's transaction (a rebuild
    /// resetting its read model and its position together).
    pub async fn reset_checkpoint_in(
        &self,
        conn: &mut PgConnection,
        name: &str,
    ) -> Result<(), StoreError> {
        self.checkpoints.reset_in(conn, name).await
    }

    /// The projection backend of this store's schema.
    pub fn projection_backend(&self) -> PgProjectionBackend {
        PgProjectionBackend::new(
            self.pool.clone(),
            self.checkpoints.clone(),
            Arc::new(projections::Statements::new(self.options.schema())),
        )
    }

    /// The dead-letter store of this store's schema.
    pub fn dead_letters(&self) -> PgDeadLetterStore {
        PgDeadLetterStore::new(
            self.pool.clone(),
            Arc::new(dead_letters::Statements::new(self.options.schema())),
        )
    }

    /// The control store of this store's schema: give it to every runner
    /// (`ProjectionRunner::with_control`) so that operators in other
    /// processes can pause, resume, rebuild and reset its projections and
    /// retry their parked events. Requests wake runners through `NOTIFY`
    /// on the channel `ctl_` + the store's notification channel (when
    /// notifications are on); runners also poll.
    pub fn control_store(&self) -> PgControlStore {
        PgControlStore::new(
            self.pool.clone(),
            Arc::new(controls::Statements::new(self.options.schema())),
            self.controls.clone(),
            self.options.clock().clone(),
        )
    }

    /// The operations API over this store's schema: the event log, the
    /// projection catalog, control requests, dead letters, saga instances
    /// and migrations (what the admin CLI and console of
    /// `eventsource-admin` run on).
    pub fn operations(&self) -> eventsource::ops::Operations {
        eventsource::ops::Operations::new(self.clone())
            .with_catalog(self.projection_backend())
            .with_control(Arc::new(self.control_store()))
            .with_dead_letters(Arc::new(self.dead_letters()))
            .with_sagas(self.saga_store())
            .with_migrations(self.clone())
            .with_keys(Arc::new(self.key_store()))
            .with_snapshots(Arc::new(self.clone()))
            .with_clock(self.options.clock().clone())
    }

    /// The key store of crypto-shredding in this store's schema (the
    /// `subject_keys` table), for `eventsource::shredding::ShreddingStore`.
    pub fn key_store(&self) -> PgKeyStore {
        PgKeyStore::new(self.pool.clone(), self.options.schema())
    }

    /// The saga store of this store's schema.
    pub fn saga_store(&self) -> PgSagaStore {
        PgSagaStore::new(
            self.pool.clone(),
            Arc::new(sagas::Statements::new(self.options.schema())),
        )
    }
}

impl fmt::Debug for PgEventStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgEventStore")
            .field("schema", &self.schema())
            .field("options", &self.options)
            .field("replica", &self.replica.as_ref().map(|(_, reads)| reads))
            .finish_non_exhaustive()
    }
}

impl PgEventStore {
    /// The span of one statement on the events table, with the
    /// OpenTelemetry database attributes (feature `opentelemetry` of
    /// `eventsource`; a disabled span without it).
    fn db_span(&self, operation: &'static str) -> tracing::Span {
        eventsource::telemetry::client_span("postgresql", operation, "events", self.schema())
    }
}

#[async_trait]
impl EventStore for PgEventStore {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.appends
            .append(stream_id, aggregate_type, expected, &events)
            .instrument(self.db_span("INSERT"))
            .await
    }

    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        read::read_stream(self.loads.clone(), stream_id, from_version)
    }

    /// With [`RecordFields::REPLAY`] (what a load asks for), one statement
    /// per page of 5 columns (name, version, schema version, payload,
    /// position) decoded by position; with more, the rows of `read_stream`.
    async fn visit_stream_with(
        &self,
        stream_id: &str,
        from_version: u64,
        fields: RecordFields,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<(), StoreError> {
        if fields.metadata || fields.envelope {
            return self.visit_stream(stream_id, from_version, visit).await;
        }
        loads::visit_replay(&self.loads.for_loads(), stream_id, from_version, visit)
            .instrument(self.db_span("SELECT"))
            .await
    }

    /// One statement for the snapshot and a page of the events after it,
    /// when `home` is this store's (see [`SnapshotStore::home`]).
    async fn visit_stream_after_snapshot(
        &self,
        stream_id: &str,
        home: &SnapshotHome,
        wanted: SnapshotWanted,
        load: &mut dyn StreamLoad,
    ) -> Result<bool, StoreError> {
        if *home != self.snapshot_home {
            return Ok(false);
        }
        loads::visit_after_snapshot(&self.loads.for_loads(), stream_id, wanted, load)
            .instrument(self.db_span("SELECT"))
            .await?;
        Ok(true)
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        read::read_all(self.reads.clone(), from_position, filter)
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        subscribe::subscribe(self.reads.clone(), from_position, filter)
    }

    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.appends
            .stream_version(stream_id)
            .instrument(self.db_span("SELECT"))
            .await
    }

    /// Counted by the server (`count(*)` with the filter's conditions), up
    /// to the head as of the call, waiting like `read_all` for older
    /// transactions that may still commit below it.
    async fn count_events(
        &self,
        from_position: u64,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        read::count(&self.reads, from_position, &filter)
            .instrument(self.db_span("SELECT"))
            .await
    }

    /// The highest committed position. Events below it may still be
    /// committing (see the crate docs); `read_all` waits for them.
    async fn head_position(&self) -> Result<u64, StoreError> {
        self.reads
            .head_position()
            .instrument(self.db_span("SELECT"))
            .await
    }

    /// In one transaction: the tombstone through the append, then (hard)
    /// the stream's earlier rows and its snapshot removed.
    async fn delete_stream(
        &self,
        stream_id: &str,
        mode: DeleteMode,
    ) -> Result<Deletion, StoreError> {
        self.lifecycle.delete_stream(stream_id, mode).await
    }

    async fn recreate_stream(&self, stream_id: &str) -> Result<u64, StoreError> {
        self.lifecycle.recreate_stream(stream_id).await
    }

    async fn truncate_before(
        &self,
        stream_id: &str,
        before_version: u64,
    ) -> Result<Truncation, StoreError> {
        self.lifecycle
            .truncate_before(stream_id, before_version)
            .await
    }

    /// One short transaction per call: the streams' last events locked,
    /// the archive's partitions made, the earlier events moved (see
    /// `archive.rs`).
    async fn archive_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<ArchivedStream>, StoreError> {
        self.archiver.archive_streams(stream_ids).await
    }

    fn read_archived_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        archive_reads::read_stream(self.archive_reads.clone(), stream_id, from_version)
    }

    fn read_archive(&self, from_position: u64, to_position: u64) -> EventStream {
        archive_reads::read_range(self.archive_reads.clone(), from_position, to_position)
    }

    async fn archive_status(&self) -> Result<ArchiveStatus, StoreError> {
        self.archive_reads.status().await
    }

    /// One query: the last event of each stream (`DISTINCT ON`), ids
    /// compared byte by byte.
    async fn streams(&self, query: &StreamQuery) -> Result<Vec<StreamSummary>, StoreError> {
        self.summaries.streams(query).await
    }

    /// One aggregate query (`GROUP BY event_name, schema_version`).
    async fn event_types(&self) -> Result<Vec<StoredEventType>, StoreError> {
        self.summaries.event_types().await
    }
}

/// The store's schema migrations, for operators (`migrate` of the admin CLI).
#[async_trait]
impl eventsource::ops::Migrations for PgEventStore {
    async fn migration_status(&self) -> Result<Vec<eventsource::ops::MigrationState>, StoreError> {
        let applied = migrate::applied(&self.pool, self.options.schema()).await?;
        Ok(migrate::MIGRATIONS
            .iter()
            .map(|m| eventsource::ops::MigrationState {
                version: m.version,
                name: m.name.to_owned(),
                applied_at: applied
                    .iter()
                    .find(|(version, _)| *version == m.version)
                    .map(|(_, at)| *at),
            })
            .collect())
    }

    async fn pending_sql(&self) -> Result<String, StoreError> {
        let applied = migrate::applied(&self.pool, self.options.schema()).await?;
        let versions: Vec<i32> = applied.iter().map(|(v, _)| *v).collect();
        Ok(migrate::pending_sql(self.options.schema(), &versions))
    }

    async fn apply_migrations(&self) -> Result<Vec<i32>, StoreError> {
        self.migrate().await
    }
}

#[async_trait]
impl SnapshotStore for PgEventStore {
    /// Upserts, unless the stored snapshot has a higher version (decided in
    /// the statement, so concurrent savers cannot regress it).
    async fn save(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        self.snapshots.save(snapshot).await
    }

    async fn load(&self, stream_id: &str) -> Result<Option<Snapshot>, StoreError> {
        self.snapshot_loads.load(stream_id).await
    }

    async fn delete(&self, stream_id: &str) -> Result<(), StoreError> {
        self.snapshots.delete(stream_id).await
    }

    fn home(&self) -> Option<SnapshotHome> {
        Some(self.snapshot_home.clone())
    }
}

#[async_trait]
impl CheckpointStore for PgEventStore {
    async fn load(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.checkpoints.load(name).await
    }

    async fn save(&self, name: &str, position: u64) -> Result<(), StoreError> {
        self.checkpoints.save(name, position).await
    }

    async fn reset(&self, name: &str) -> Result<(), StoreError> {
        self.checkpoints.reset(name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Identifier;
    use crate::sql::Sql;

    /// Every statement of a store for schema `shop`, named.
    fn statements(store: &PgEventStore) -> Vec<(String, Sql)> {
        let schema = Identifier::parse("schema name", "shop").unwrap();
        let mut all: Vec<(String, Sql)> = Vec::new();
        let mut add = |name: &str, sql: &Sql| all.push((name.to_owned(), sql.clone()));
        for (name, sql) in store.appends.statements() {
            add(name, sql);
        }
        for (name, sql) in store.reads.statements() {
            add(&name, sql);
        }
        for (name, sql) in store.snapshots.statements() {
            add(name, sql);
        }
        for (name, sql) in store.checkpoints.statements() {
            add(name, sql);
        }
        for (name, sql) in projections::Statements::new(&schema).all() {
            add(name, sql);
        }
        for (name, sql) in dead_letters::Statements::new(&schema).all() {
            add(name, sql);
        }
        for (name, sql) in sagas::Statements::new(&schema).all() {
            add(name, sql);
        }
        for (name, sql) in controls::Statements::new(&schema).all() {
            add(name, sql);
        }
        for (name, sql) in store.summaries.statements() {
            add(name, sql);
        }
        for (name, sql) in crate::read_model::statements(&schema) {
            add(name, &sql);
        }
        for (name, sql) in store.lifecycle.statements().all() {
            add(name, sql);
        }
        for (name, sql) in store.key_store().statements() {
            add(name, sql);
        }
        for (name, sql) in store.archiver.statements() {
            add(name, sql);
        }
        for (name, sql) in store.archive_reads.statements() {
            add(name, sql);
        }
        all
    }

    /// Prints every final statement (run with `--nocapture` to read them),
    /// and checks that each is whole: every placeholder filled, the schema
    /// quoted wherever a table is named.
    #[test]
    fn every_statement_is_whole_sql() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = {
            let _inside = runtime.enter();
            PgPool::connect_lazy("postgres://localhost/unused").unwrap()
        };
        let store = PgEventStore::with_options(pool, PgStoreOptions::new("shop").unwrap());
        let all = statements(&store);
        assert_eq!(all.len(), 105, "every statement is listed");
        for (name, sql) in &all {
            let text = sql.as_str();
            println!("-- {name}\n{text};\n");
            assert!(!text.contains('{') && !text.contains('}'), "{name}: {text}");
            assert!(
                !text.contains(" shop."),
                "{name}: an unquoted schema: {text}"
            );
            for table in [
                "events",
                "snapshots",
                "checkpoints",
                "dead_letters",
                "saga_instances",
                "projection_leases",
                "projection_members",
                "projection_versions",
                "projection_controls",
                "read_model_migrations",
                "saga_deadlines",
                "subject_keys",
                "events_archive",
            ] {
                assert!(
                    !text.contains(&format!(" {table} ")),
                    "{name}: table {table} without its schema: {text}"
                );
            }
        }
    }
}
