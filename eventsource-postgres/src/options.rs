//! How a [`PgEventStore`](crate::PgEventStore) is configured.

use std::time::Duration;

use eventsource::clock::Clock;

use crate::schema::{Identifier, InvalidIdentifier};
use crate::scope::Scope;

/// Settings of a [`PgEventStore`](crate::PgEventStore).
///
/// ```
/// use std::time::Duration;
/// use eventsource_postgres::PgStoreOptions;
///
/// let options = PgStoreOptions::new("shop")?
///     .with_poll_interval(Duration::from_millis(500))
///     .with_page_size(5_000);
/// assert_eq!(options.schema().as_str(), "shop");
/// assert_eq!(options.notify_channel().map(|c| c.as_str()), Some("es_shop"));
/// assert!(PgStoreOptions::new("Robert'); DROP TABLE").is_err());
/// # Ok::<(), eventsource_postgres::InvalidIdentifier>(())
/// ```
#[derive(Clone, Debug)]
pub struct PgStoreOptions {
    schema: Identifier,
    notify_channel: Option<Identifier>,
    poll_interval: Duration,
    recheck_max: Duration,
    page_size: u32,
    reconnect_limit: Option<u32>,
    stall_warning: Option<Duration>,
    writer_connections: u32,
    group_commit: u32,
    clock: Clock,
    /// Whose rows the store's sessions see (set by `PgConjoined` only).
    scope: Scope,
}

/// The schema used by [`PgStoreOptions::default`].
pub const DEFAULT_SCHEMA: &str = "eventsource";

impl PgStoreOptions {
    /// Options for tables under `schema`, which must match `^[a-z_][a-z0-9_]{0,62}$`.
    ///
    /// The notification channel defaults to `es_<schema>` (cut to 63 bytes).
    pub fn new(schema: &str) -> Result<Self, InvalidIdentifier> {
        Identifier::parse("schema name", schema).map(Self::for_schema)
    }

    fn for_schema(schema: Identifier) -> Self {
        Self {
            notify_channel: Some(schema.prefixed("es_")),
            schema,
            poll_interval: Duration::from_secs(1),
            recheck_max: Duration::from_millis(100),
            page_size: 5_000,
            reconnect_limit: None,
            stall_warning: Some(Duration::from_secs(30)),
            writer_connections: 0,
            group_commit: 0,
            clock: Clock::current(),
            scope: Scope::Default,
        }
    }

    /// Sets the `LISTEN`/`NOTIFY` channel that wakes subscribers in other
    /// processes; `None` disables it, leaving in-process wake-ups and polling.
    pub fn with_notify_channel(mut self, channel: Option<&str>) -> Result<Self, InvalidIdentifier> {
        self.notify_channel = channel
            .map(|c| Identifier::parse("notification channel", c))
            .transpose()?;
        Ok(self)
    }

    /// How often an idle subscription looks for new events when no
    /// notification arrives (default 1 s). A safety net only: appends wake
    /// subscribers at once through this process or `NOTIFY`.
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The longest pause between re-checks while committed events wait
    /// behind an older transaction that is still open (default 100 ms).
    /// Re-checks start at 1 ms and double up to this.
    pub fn with_recheck_max(mut self, max: Duration) -> Self {
        self.recheck_max = max.max(Duration::from_millis(1));
        self
    }

    /// Rows per query of streamed reads (default 5,000). Rows are yielded as
    /// they arrive, so memory does not grow with the page; larger pages mean
    /// fewer round trips, smaller ones shorter-lived queries when the
    /// consumer is slow.
    pub fn with_page_size(mut self, rows: u32) -> Self {
        self.page_size = rows.max(1);
        self
    }

    /// How many failed attempts in a row a subscription makes to reach the
    /// database before it yields the error and ends. `None` (the default)
    /// keeps retrying, with backoff up to 5 s, for as long as it is polled.
    pub fn with_reconnect_limit(mut self, attempts: Option<u32>) -> Self {
        self.reconnect_limit = attempts;
        self
    }

    /// How long committed events may wait behind an open transaction before
    /// a reader logs a warning naming it (default 30 s; `None`: never).
    ///
    /// The warning (`tracing::warn!`, once per stall) gives the blocking
    /// backend's pid, state, transaction age and query from
    /// `pg_stat_activity`, or the prepared transaction's `gid` from
    /// `pg_prepared_xacts`. Other users' sessions are visible only to a
    /// role with `pg_read_all_stats`. Events that wait because the cluster's
    /// transaction ids are behind the stored positions are reported as such.
    pub fn with_stall_warning(mut self, after: Option<Duration>) -> Self {
        self.stall_warning = after;
        self
    }

    /// How many connections the store keeps for its own appends and
    /// aggregate loads between uses (default 0: every append and load takes
    /// a connection from the pool and hands it back).
    ///
    /// sqlx tests each connection handed back to a pool with a round trip of
    /// its own, so an append or a load on a pooled connection wakes the
    /// server twice. A store that keeps connections detaches them from the
    /// pool (which may open replacements, up to its own maximum: the server
    /// then sees up to this many connections more) and keeps them until it
    /// is dropped. An append, or a load of an aggregate
    /// (`EventStore::visit_stream_with`, `visit_stream_after_snapshot`) that
    /// reads the primary, finds an idle kept connection, or detaches a new
    /// one while fewer than `n` are kept, or else uses the pool as usual. A
    /// command loads and then appends, never both at once, so one kept
    /// connection per concurrent writer serves both. Worth it for many
    /// concurrent writers; appends inside a caller's transaction
    /// ([`PgEventStore::append_in`](crate::PgEventStore::append_in)) and
    /// loads from a standby ([`PgEventStore::with_replica`](crate::PgEventStore::with_replica))
    /// are unaffected.
    ///
    /// A kept connection that died while idle (a server restart, a cut
    /// network) fails its next append or load with a connection error; the
    /// store then closes it and runs the append again on a pooled
    /// connection, which is safe since appends are idempotent by event id,
    /// and the load too, when the error came before it lent anything.
    pub fn with_writer_connections(mut self, n: u32) -> Self {
        self.writer_connections = n;
        self
    }

    /// Lets concurrent appends of this store share statements, and so
    /// commits, with up to `n` such statements running at once (default 0:
    /// every append is a statement of its own).
    ///
    /// Each commit costs the server a transaction and a wait for its WAL
    /// flush, whatever it holds. With many writers, most of an append's
    /// cost is that, and this option spreads it over the appends that
    /// arrive together. While a statement runs, appends that arrive queue;
    /// a statement that is free takes what has queued — at most one append
    /// per stream, of up to 64 events each, 256 appends or 2,048 events in
    /// all — and appends them as one transaction. An append alone in the
    /// queue runs as usual. Larger batches and appends inside a caller's
    /// transaction ([`PgEventStore::append_in`](crate::PgEventStore::append_in))
    /// never queue.
    ///
    /// Each append keeps its own result: its own checks of the expected
    /// version, and its own error. An append that fails a check is left out
    /// of the shared statement (nothing of it is written) and runs again on
    /// its own, which gives the precise error. When the shared statement
    /// fails as a whole (a concurrent write from another process took a
    /// version, an id was already stored, the connection broke), nothing
    /// of it was committed, or the ids say what was: each of its appends
    /// then runs on its own, which answers stored batches as replays. An
    /// append whose caller stops waiting while it queues is dropped from the
    /// queue; once in a statement, it commits with it.
    ///
    /// Two runners (`n = 2`) are the recommended setting for many writers.
    /// One runner makes the largest groups, but the server then has nothing
    /// to do for the store while a statement's commit waits for its flush,
    /// and the next group waits for that commit. With two, one statement
    /// runs while the other's commit flushes, and two server processes
    /// share the work; in the benchmarks (`BENCHMARKS.md` in the repository
    /// gives the figures) two runners did better than one at 64 writers in
    /// every check run, and as well within the noise at 16. A second runner
    /// also bounds how long one statement waiting —
    /// on a row lock another transaction holds, say — holds up the
    /// process's other appends: the other runner takes them meanwhile.
    ///
    /// The statements run on the store's kept writer connections
    /// ([`PgStoreOptions::with_writer_connections`]) when there are any, else
    /// on pooled ones, and in tasks of their own, so appends must run inside
    /// a Tokio runtime to share statements (they do, on sqlx's Tokio
    /// runtime).
    pub fn with_group_commit(mut self, n: u32) -> Self {
        self.group_commit = n;
        self
    }

    /// Times the store's waits with `clock`: re-checks, polling, reconnects,
    /// the pace of `NOTIFY` and the stall warning (by default the ambient
    /// clock when the options were made: see [`Clock::current`]). Event
    /// times come from the server.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Scopes the store to a tenant, or to every tenant's events (only
    /// `PgConjoined`, which gives it connections that set the same tenant).
    pub(crate) fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Whose rows the store sees.
    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &Identifier {
        &self.schema
    }

    /// The notification channel, if cross-process wake-ups are enabled.
    pub fn notify_channel(&self) -> Option<&Identifier> {
        self.notify_channel.as_ref()
    }

    /// The polling fallback interval.
    pub fn poll_interval(&self) -> Duration {
        self.poll_interval
    }

    /// The longest pause between re-checks behind an open transaction.
    pub fn recheck_max(&self) -> Duration {
        self.recheck_max
    }

    /// Rows per query in streamed reads.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Failed attempts in a row before a subscription gives up (`None`: never).
    pub fn reconnect_limit(&self) -> Option<u32> {
        self.reconnect_limit
    }

    /// How long events may wait behind an open transaction before a warning.
    pub fn stall_warning(&self) -> Option<Duration> {
        self.stall_warning
    }

    /// How many connections appends keep (see [`PgStoreOptions::with_writer_connections`]).
    pub fn writer_connections(&self) -> u32 {
        self.writer_connections
    }

    /// The clock the store waits by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// How many shared append statements may run at once (see
    /// [`PgStoreOptions::with_group_commit`]; 0: none).
    pub fn group_commit(&self) -> u32 {
        self.group_commit
    }
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        Self::for_schema(Identifier::trusted(DEFAULT_SCHEMA))
    }
}
