//! Streamed reads: a stream from a version, the global log from a position.
//!
//! Both walk keyset pages (`WHERE key > last ORDER BY key LIMIT n`) and
//! yield each row as it arrives: memory does not grow with the result, and
//! a slow consumer holds a query (and its snapshot) open for one page at a
//! time, not for the whole read.

pub(crate) mod archive;
pub(crate) mod horizon_stall;
pub(crate) mod loads;
mod prefetch;
mod stream_pages;
pub(crate) mod subscribe;
pub(crate) mod summary;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use eventsource::backoff::Backoff;
use eventsource::store::{EventFilter, EventStream};
use eventsource::{RecordedEvent, StoreError};
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};

use crate::append::{Writers, XidGuard};
use crate::error::store_error;
use crate::notify::Notifications;
use crate::options::PgStoreOptions;
use crate::row::{self, Names, Unreadable};
use crate::schema::Identifier;
use crate::sql::Sql;
use archive::{COUNT_ALL, READ_ALL};
use horizon_stall::{Probe, Stall};

/// A stream's events from version `$2`, at most `$3`.
const READ_STREAM: &str = "\
SELECT global_position, stream_id, aggregate_type, stream_version, event_id, event_name,
    schema_version, payload::text, metadata::text, recorded_at
FROM {schema}.events
WHERE stream_id = $1 AND stream_version >= $2
ORDER BY stream_version LIMIT $3";

// The pages of the global log read the archive too: their statements,
// `READ_ALL` and `COUNT_ALL`, are in `archive.rs`.

/// The first position a transaction still able to commit could use (the
/// oldest running transaction id of this statement's snapshot, scaled), and
/// the highest committed position.
const HORIZON: &str = "\
SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint * {slots},
    (SELECT max(global_position) FROM {schema}.events)";

/// The highest committed position (0 when empty).
const HEAD_POSITION: &str = "SELECT COALESCE(max(global_position), 0) FROM {schema}.events";

/// Which optional conditions a global read carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FilterShape {
    pub(crate) names: bool,
    pub(crate) types: bool,
    pub(crate) since: bool,
    /// Only the streams of some buckets (a partition of the log).
    pub(crate) buckets: bool,
}

impl FilterShape {
    fn index(self) -> usize {
        usize::from(self.names)
            | usize::from(self.types) << 1
            | usize::from(self.since) << 2
            | usize::from(self.buckets) << 3
    }

    fn all() -> impl Iterator<Item = Self> {
        (0..16).map(|i| Self {
            names: i & 1 != 0,
            types: i & 2 != 0,
            since: i & 4 != 0,
            buckets: i & 8 != 0,
        })
    }

    /// The conditions, numbering parameters from `first`: the only SQL text
    /// assembled from parts, all fixed.
    fn conditions(self, first: usize) -> String {
        let mut sql = String::new();
        let mut next = first;
        let mut clause = |before: &str, after: &str| {
            sql.push_str(&format!(" AND {before}${next}{after}"));
            next += 1;
        };
        if self.names {
            clause("event_name = ANY(", ")");
        }
        if self.types {
            clause("aggregate_type = ANY(", ")");
        }
        if self.since {
            clause("recorded_at >= ", "");
        }
        if self.buckets {
            // The generated column of migration 0010, indexed with the position.
            clause("stream_bucket = ANY(", ")");
        }
        sql
    }
}

/// The statements of one store's reads.
#[derive(Debug)]
struct Statements {
    read_stream: Sql,
    /// A stream as a replay reads it (see `loads`).
    replay_stream: Sql,
    /// A snapshot and the events after it (see `loads`).
    after_snapshot: Sql,
    /// By [`FilterShape::index`].
    read_all: Vec<Sql>,
    /// By [`FilterShape::index`].
    count_all: Vec<Sql>,
    horizon: Sql,
    head_position: Sql,
}

impl Statements {
    fn new(schema: &Identifier) -> Self {
        Self {
            read_stream: Sql::new(READ_STREAM, schema),
            replay_stream: Sql::new(loads::REPLAY_STREAM, schema),
            after_snapshot: Sql::new(loads::AFTER_SNAPSHOT, schema),
            read_all: FilterShape::all()
                .map(|shape| Sql::with_filter(READ_ALL, schema, &shape.conditions(4)))
                .collect(),
            count_all: FilterShape::all()
                .map(|shape| Sql::with_filter(COUNT_ALL, schema, &shape.conditions(3)))
                .collect(),
            horizon: Sql::new(HORIZON, schema),
            head_position: Sql::new(HEAD_POSITION, schema),
        }
    }

    fn read_all(&self, shape: FilterShape) -> &Sql {
        &self.read_all[shape.index()]
    }

    fn count_all(&self, shape: FilterShape) -> &Sql {
        &self.count_all[shape.index()]
    }
}

/// The reads and subscriptions of one store (and its clones).
#[derive(Debug)]
pub(crate) struct Reads {
    /// Where the rows are read: the primary, or a hot standby.
    pool: PgPool,
    /// The primary, for what a standby cannot do: `LISTEN`, and naming the
    /// transaction that holds the horizon (it runs on the primary).
    primary: PgPool,
    /// Whether `pool` is a standby's: its rows trail the primary's
    /// notifications, so a woken subscription re-checks for a while.
    on_replica: bool,
    options: PgStoreOptions,
    statements: Statements,
    notifications: Arc<Notifications>,
    /// For the stall warning's diagnosis.
    xid: Arc<XidGuard>,
    /// The store's kept connections, which loads borrow when `pool` is the
    /// primary's (see [`Reads::with_kept_connections`]).
    kept: Option<Arc<Writers>>,
}

impl Reads {
    /// Reads on `pool`; `primary` is the same pool unless `pool` is a
    /// standby's (`on_replica`).
    pub(crate) fn new(
        pool: PgPool,
        primary: PgPool,
        on_replica: bool,
        options: PgStoreOptions,
        notifications: Arc<Notifications>,
        xid: Arc<XidGuard>,
    ) -> Self {
        Self {
            statements: Statements::new(options.schema()),
            pool,
            primary,
            on_replica,
            options,
            notifications,
            xid,
            kept: None,
        }
    }

    /// These reads, whose aggregate loads run on an idle connection of
    /// `kept` when there is one (see `append::writers`): a pooled
    /// connection costs a second round trip when it goes back to the pool.
    /// Only for reads on the primary, whose connections `kept` holds.
    pub(crate) fn with_kept_connections(mut self, kept: Arc<Writers>) -> Self {
        self.kept = Some(kept);
        self
    }

    /// What a stalled reader needs to name the blocker.
    fn probe(&self) -> Probe<'_> {
        Probe {
            pool: &self.primary,
            schema: self.options.schema(),
            xid: &self.xid,
            clock: self.options.clock(),
        }
    }

    /// The highest committed position. Events below it may still be
    /// committing (see the crate docs); `read_all` waits for them.
    pub(crate) async fn head_position(&self) -> Result<u64, StoreError> {
        let row = sqlx::query(self.statements.head_position.get())
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let head: i64 = row.try_get(0).map_err(store_error)?;
        Ok(u64::try_from(head).unwrap_or(0))
    }

    /// What the reads of aggregate loads need (see [`loads`]).
    pub(crate) fn for_loads(&self) -> loads::LoadSource<'_> {
        loads::LoadSource {
            pool: &self.pool,
            kept: self.kept.as_deref(),
            replay_stream: &self.statements.replay_stream,
            after_snapshot: &self.statements.after_snapshot,
        }
    }

    /// Every statement of the reads, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> Vec<(String, &Sql)> {
        let s = &self.statements;
        let mut all = vec![
            ("read_stream".to_owned(), &s.read_stream),
            ("replay_stream".to_owned(), &s.replay_stream),
            ("after_snapshot".to_owned(), &s.after_snapshot),
            ("horizon".to_owned(), &s.horizon),
            ("head_position".to_owned(), &s.head_position),
        ];
        for shape in FilterShape::all() {
            all.push((format!("read_all {shape:?}"), s.read_all(shape)));
            all.push((format!("count_all {shape:?}"), s.count_all(shape)));
        }
        all
    }
}

pub(crate) fn read_stream(reads: Arc<Reads>, stream_id: &str, from_version: u64) -> EventStream {
    let page = i64::from(reads.options.page_size());
    stream_pages::read(
        reads,
        |r| &r.statements.read_stream,
        |r| &r.pool,
        page,
        stream_id,
        from_version,
    )
}

/// A global read's filter, as bind parameters.
pub(crate) struct Bound<'f> {
    shape: FilterShape,
    names: Vec<&'f str>,
    types: Vec<&'f str>,
    since: Option<DateTime<Utc>>,
    /// The buckets of the partition read, if one is.
    buckets: Vec<i16>,
}

impl<'f> Bound<'f> {
    pub(crate) fn new(filter: &'f EventFilter) -> Self {
        let list = |set: &'f Option<Arc<[Arc<str>]>>| {
            set.as_deref()
                .map(|s| s.iter().map(|n| &**n).collect::<Vec<&str>>())
        };
        let names = list(&filter.event_names);
        let types = list(&filter.aggregate_types);
        Self {
            shape: FilterShape {
                names: names.is_some(),
                types: types.is_some(),
                since: filter.recorded_since.is_some(),
                buckets: filter.partition.is_some(),
            },
            names: names.unwrap_or_default(),
            types: types.unwrap_or_default(),
            since: filter.recorded_since,
            buckets: filter.partition.map_or_else(Vec::new, |p| {
                // Buckets are below 1024.
                p.buckets()
                    .into_iter()
                    .filter_map(|b| i16::try_from(b).ok())
                    .collect()
            }),
        }
    }

    /// `COUNT_ALL` with this filter bound.
    async fn count(
        &self,
        reads: &Reads,
        after: i64,
        before: i64,
    ) -> Result<(i64, Option<i64>, i64), StoreError> {
        let mut query = sqlx::query(reads.statements.count_all(self.shape).get())
            .bind(after)
            .bind(before);
        if self.shape.names {
            query = query.bind(&self.names);
        }
        if self.shape.types {
            query = query.bind(&self.types);
        }
        if let Some(since) = self.since {
            query = query.bind(since);
        }
        if self.shape.buckets {
            query = query.bind(&self.buckets);
        }
        let row = query.fetch_one(&reads.pool).await.map_err(store_error)?;
        Ok((
            row.try_get(0).map_err(store_error)?,
            row.try_get(1).map_err(store_error)?,
            row.try_get(2).map_err(store_error)?,
        ))
    }

    /// Up to a page of rows with `after < position < before`, in order, on
    /// the connection `before` was found on (see [`horizon`]).
    pub(crate) fn page<'a>(
        &'a self,
        reads: &'a Reads,
        conn: &'a mut PgConnection,
        after: i64,
        before: i64,
    ) -> BoxStream<'a, Result<PgRow, sqlx::Error>> {
        let mut query = sqlx::query(reads.statements.read_all(self.shape).get())
            .bind(after)
            .bind(before)
            .bind(i64::from(reads.options.page_size()));
        if self.shape.names {
            query = query.bind(&self.names);
        }
        if self.shape.types {
            query = query.bind(&self.types);
        }
        if let Some(since) = self.since {
            query = query.bind(since);
        }
        if self.shape.buckets {
            query = query.bind(&self.buckets);
        }
        query.fetch(conn)
    }
}

/// The gap-free horizon and the highest committed position (see the crate docs).
///
/// The rows below the horizon must then be read on the same connection:
/// they are final on the server that computed it, in its state then or
/// later. Another server (a standby further behind) or the same standby
/// after a crash (which may reopen at an earlier point of its replay) may
/// not show them yet, and a reader that moved past them would skip them.
pub(crate) async fn horizon(
    reads: &Reads,
    conn: &mut PgConnection,
) -> Result<(i64, Option<i64>), StoreError> {
    let row = sqlx::query(reads.statements.horizon.get())
        .fetch_one(conn)
        .await
        .map_err(store_error)?;
    Ok((
        row.try_get(0).map_err(store_error)?,
        row.try_get(1).map_err(store_error)?,
    ))
}

/// Decodes one row of a global page; a corrupt row carries its position,
/// so the reader can continue after it.
pub(crate) fn decode_global(
    row: Result<PgRow, sqlx::Error>,
    names: &mut Names,
) -> Result<RecordedEvent, Unreadable> {
    let row = row.map_err(|e| Unreadable::Failed(store_error(e)))?;
    row::decode(&row, names)
}

/// How many events `read_all(from_position, filter)` would deliver: the
/// rows up to the head as of the call, counted by the server.
///
/// Like `read_all`, it waits while transactions older than the head may
/// still commit events below it (usually not at all: one statement finds
/// the horizon above the head and counts in the same snapshot).
pub(crate) async fn count(
    reads: &Reads,
    from_position: u64,
    filter: &EventFilter,
) -> Result<u64, StoreError> {
    let Some(after) = start_after(from_position) else {
        return Ok(0);
    };
    let bound = Bound::new(filter);
    let (horizon_now, head, counted) = bound.count(reads, after, i64::MAX).await?;
    let Some(target) = head.filter(|h| *h > after) else {
        return Ok(0);
    };
    if horizon_now > target {
        return Ok(u64::try_from(counted).unwrap_or(0));
    }
    let mut recheck = Backoff::new(Duration::from_millis(1), reads.options.recheck_max()).delays();
    let mut stall = Stall::new("count_events", reads.options.stall_warning());
    loop {
        reads.options.clock().sleep(recheck.next_delay()).await;
        let (horizon_now, _, counted) = bound.count(reads, after, target.saturating_add(1)).await?;
        if horizon_now > target {
            return Ok(u64::try_from(counted).unwrap_or(0));
        }
        stall
            .observe(&reads.probe(), horizon_now, Some(target))
            .await;
    }
}

/// `from` (inclusive, as the trait counts) as the exclusive keyset start.
pub(crate) fn start_after(from_position: u64) -> Option<i64> {
    i64::try_from(from_position.saturating_sub(1)).ok()
}

/// Everything from `from_position` up to the head as of the call.
///
/// Rows below the horizon are final and stream at once. If the head is
/// above it (appends committed while an older transaction is still open),
/// the tail waits for that transaction to finish, re-checking with a short
/// backoff, so the result never misses an event that commits later with a
/// lower position; a caller may continue with `subscribe(last + 1)` safely.
pub(crate) fn read_all(reads: Arc<Reads>, from_position: u64, filter: EventFilter) -> EventStream {
    Box::pin(async_stream::stream! {
        let Some(mut after) = start_after(from_position) else {
            return;
        };
        let bound = Bound::new(&filter);
        let page_size = i64::from(reads.options.page_size());
        let mut names = Names::default();
        let mut recheck = Backoff::new(Duration::from_millis(1), reads.options.recheck_max()).delays();
        let mut stall = Stall::new("read_all", reads.options.stall_warning());
        let mut conn = match reads.pool.acquire().await {
            Ok(conn) => conn,
            Err(err) => {
                yield Err(store_error(err));
                return;
            }
        };
        let (mut horizon_now, head) = match horizon(&reads, &mut conn).await {
            Ok(found) => found,
            Err(err) => {
                yield Err(err);
                return;
            }
        };
        let Some(target) = head.filter(|h| *h > after) else {
            return;
        };
        loop {
            let before = horizon_now.min(target.saturating_add(1));
            if before > after.saturating_add(1) {
                loop {
                    let mut rows = bound.page(&reads, &mut conn, after, before);
                    let mut seen = 0;
                    while let Some(row) = rows.next().await {
                        seen += 1;
                        match decode_global(row, &mut names) {
                            Ok(event) => {
                                after = i64::try_from(event.global_position).unwrap_or(i64::MAX);
                                yield Ok(event);
                            }
                            Err(Unreadable::Corrupt(record)) if record.global_position > 0 => {
                                after = i64::try_from(record.global_position).unwrap_or(i64::MAX);
                                yield Err(Unreadable::Corrupt(record).into_store_error());
                            }
                            Err(other) => {
                                yield Err(other.into_store_error());
                                return;
                            }
                        }
                    }
                    if seen < page_size {
                        break;
                    }
                }
                after = before - 1;
            }
            if after >= target {
                return;
            }
            stall.observe(&reads.probe(), horizon_now, Some(target)).await;
            // No connection held while waiting; the next horizon and the
            // pages below it share the next one.
            drop(conn);
            reads.options.clock().sleep(recheck.next_delay()).await;
            conn = match reads.pool.acquire().await {
                Ok(conn) => conn,
                Err(err) => {
                    yield Err(store_error(err));
                    return;
                }
            };
            horizon_now = match horizon(&reads, &mut conn).await {
                Ok((h, _)) => h,
                Err(err) => {
                    yield Err(err);
                    return;
                }
            };
        }
    })
}

#[cfg(test)]
mod tests {
    use super::FilterShape;

    #[test]
    fn filter_conditions_are_numbered_from_the_first_free_parameter() {
        let all = FilterShape {
            names: true,
            types: true,
            since: true,
            buckets: true,
        };
        assert_eq!(
            all.conditions(4),
            " AND event_name = ANY($4) AND aggregate_type = ANY($5) AND recorded_at >= $6 AND stream_bucket = ANY($7)"
        );
        let since = FilterShape {
            since: true,
            ..FilterShape::default()
        };
        assert_eq!(since.conditions(3), " AND recorded_at >= $3");
        assert_eq!(FilterShape::default().conditions(4), "");
        let indexes: Vec<usize> = FilterShape::all().map(FilterShape::index).collect();
        assert_eq!(indexes, (0..16).collect::<Vec<_>>());
    }
}
