//! Reads that see the archive (`events_archive`, see
//! `eventsource::store::archive`): the global log as archive and hot rows in
//! one position order, an archived stream by version, and archived ranges.
//!
//! The global reads union both tables in one statement, so one snapshot
//! sees each row in exactly one of them: a move (insert into the archive and
//! delete from `events`, one transaction) is either wholly visible to a page
//! or not at all, and a reader running during an archive job delivers every
//! event once, in order. PostgreSQL flattens the `UNION ALL` and pushes the
//! position range into both branches, so a page is a merge of two index
//! range scans; for a reader at the head the archive's scan is an empty
//! probe. Appends, stream reads and the head never touch the archive (a
//! stream's last event always stays hot).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use eventsource::StoreError;
use eventsource::store::{ArchiveRange, ArchiveStatus, EventStream};
use futures::StreamExt;
use sqlx::{PgPool, Row};

use crate::error::store_error;
use crate::row::{self, Names, Unreadable};
use crate::schema::Identifier;
use crate::sql::Sql;

/// A page of the global log, archive and hot rows together: rows after
/// `$1` and before `$2` (exclusive), at most `$3`, passing the filter's
/// conditions (parameters from `$4`).
pub(super) const READ_ALL: &str = "\
SELECT global_position, stream_id, aggregate_type, stream_version, event_id, event_name,
    schema_version, payload::text, metadata::text, recorded_at
FROM (
    SELECT global_position, stream_id, aggregate_type, stream_version, event_id, event_name,
        schema_version, payload, metadata, recorded_at, stream_bucket
    FROM {schema}.events
    UNION ALL
    SELECT global_position, stream_id, aggregate_type, stream_version, event_id, event_name,
        schema_version, payload, metadata, recorded_at, stream_bucket
    FROM {schema}.events_archive
) AS log
WHERE global_position > $1 AND global_position < $2{filter}
ORDER BY global_position LIMIT $3";

/// Counts what [`READ_ALL`] would deliver, in one snapshot: the horizon, the
/// highest visible position (always a hot row: a stream's last event is
/// never archived), and the rows of both tables after `$1`, below `$2`
/// (exclusive) and below the horizon that pass the filter (parameters from
/// `$3`).
pub(super) const COUNT_ALL: &str = "\
WITH h AS MATERIALIZED (
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint * {slots} AS horizon
)
SELECT h.horizon, (SELECT max(global_position) FROM {schema}.events),
    (SELECT count(*) FROM (
        SELECT global_position, aggregate_type, event_name, recorded_at, stream_bucket
        FROM {schema}.events
        UNION ALL
        SELECT global_position, aggregate_type, event_name, recorded_at, stream_bucket
        FROM {schema}.events_archive
     ) AS log
     WHERE global_position > $1 AND global_position < LEAST($2::int8, h.horizon){filter})
FROM h";

/// The archived events of stream `$1` from version `$2`, at most `$3`.
const READ_STREAM: &str = "\
SELECT global_position, stream_id, aggregate_type, stream_version, event_id, event_name,
    schema_version, payload::text, metadata::text, recorded_at
FROM {schema}.events_archive
WHERE stream_id = $1 AND stream_version >= $2
ORDER BY stream_version LIMIT $3";

/// Archived events after position `$1` and up to `$2` (inclusive), at most `$3`.
const READ_RANGE: &str = "\
SELECT global_position, stream_id, aggregate_type, stream_version, event_id, event_name,
    schema_version, payload::text, metadata::text, recorded_at
FROM {schema}.events_archive
WHERE global_position > $1 AND global_position <= $2
ORDER BY global_position LIMIT $3";

/// The archive in figures: events, streams, first and last position, the
/// latest move.
const STATUS: &str = "\
SELECT count(*), count(DISTINCT stream_id), min(global_position), max(global_position),
    max(archived_at)
FROM {schema}.events_archive";

/// Each partition of the archive with its bounds and how many events it holds.
const RANGES: &str = "\
SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid), COALESCE(n.n_events, 0)
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
LEFT JOIN (
    SELECT tableoid, count(*) AS n_events FROM {schema}.events_archive GROUP BY tableoid
) AS n ON n.tableoid = c.oid
WHERE i.inhparent = '{schema}.events_archive'::regclass
ORDER BY c.relname";

/// The archive reads of one store.
#[derive(Debug)]
pub(crate) struct ArchiveReads {
    pool: PgPool,
    page_size: i64,
    read_stream: Sql,
    read_range: Sql,
    status: Sql,
    ranges: Sql,
}

impl ArchiveReads {
    pub(crate) fn new(pool: PgPool, schema: &Identifier, page_size: u32) -> Self {
        Self {
            pool,
            page_size: i64::from(page_size),
            read_stream: Sql::new(READ_STREAM, schema),
            read_range: Sql::new(READ_RANGE, schema),
            status: Sql::new(STATUS, schema),
            ranges: Sql::new(RANGES, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("archive read_stream", &self.read_stream),
            ("archive read_range", &self.read_range),
            ("archive status", &self.status),
            ("archive ranges", &self.ranges),
        ]
    }

    pub(crate) async fn status(&self) -> Result<ArchiveStatus, StoreError> {
        let row = sqlx::query(self.status.get())
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let count = |i: usize| -> Result<u64, StoreError> {
            let value: i64 = row.try_get(i).map_err(store_error)?;
            Ok(u64::try_from(value).unwrap_or(0))
        };
        let position = |i: usize| -> Result<Option<u64>, StoreError> {
            let value: Option<i64> = row.try_get(i).map_err(store_error)?;
            Ok(value.and_then(|v| u64::try_from(v).ok()))
        };
        let last_archived_at: Option<DateTime<Utc>> = row.try_get(4).map_err(store_error)?;
        let mut ranges = Vec::new();
        for row in sqlx::query(self.ranges.get())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?
        {
            let name: String = row.try_get(0).map_err(store_error)?;
            let bound: String = row.try_get(1).map_err(store_error)?;
            let events: i64 = row.try_get(2).map_err(store_error)?;
            let (from_position, to_position) = parse_bound(&bound).ok_or_else(|| {
                StoreError::Backend(
                    format!("archive partition {name} has bounds `{bound}`, not a position range")
                        .into(),
                )
            })?;
            ranges.push(ArchiveRange {
                name,
                from_position,
                to_position,
                events: u64::try_from(events).unwrap_or(0),
            });
        }
        ranges.sort_by_key(|r| r.from_position);
        Ok(ArchiveStatus {
            events: count(0)?,
            streams: count(1)?,
            first_position: position(2)?,
            last_position: position(3)?,
            last_archived_at,
            ranges,
        })
    }
}

/// `FOR VALUES FROM ('a') TO ('b')` as (a, b).
fn parse_bound(bound: &str) -> Option<(u64, u64)> {
    let numbers: Vec<u64> = bound
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    match numbers[..] {
        [from, to] => Some((from, to)),
        _ => None,
    }
}

/// The archived events of `stream_id` from `from_version`, a page at a time.
pub(crate) fn read_stream(
    reads: Arc<ArchiveReads>,
    stream_id: &str,
    from_version: u64,
) -> EventStream {
    let page = reads.page_size;
    super::stream_pages::read(
        reads,
        |r| &r.read_stream,
        |r| &r.pool,
        page,
        stream_id,
        from_version,
    )
}

/// The archived events from `from_position` to `to_position` (inclusive).
pub(crate) fn read_range(
    reads: Arc<ArchiveReads>,
    from_position: u64,
    to_position: u64,
) -> EventStream {
    let mut after = i64::try_from(from_position.saturating_sub(1)).unwrap_or(i64::MAX);
    let until = i64::try_from(to_position).unwrap_or(i64::MAX);
    Box::pin(async_stream::stream! {
        let mut names = Names::default();
        loop {
            let mut rows = sqlx::query(reads.read_range.get())
                .bind(after)
                .bind(until)
                .bind(reads.page_size)
                .fetch(&reads.pool);
            let mut seen = 0;
            while let Some(row) = rows.next().await {
                seen += 1;
                let row = match row {
                    Ok(row) => row,
                    Err(err) => {
                        yield Err(store_error(err));
                        return;
                    }
                };
                match row.try_get::<i64, _>(0) {
                    Ok(position) => after = position,
                    Err(err) => {
                        yield Err(store_error(err));
                        return;
                    }
                }
                yield row::decode(&row, &mut names).map_err(Unreadable::into_store_error);
            }
            if seen < reads.page_size {
                return;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::parse_bound;

    #[test]
    fn partition_bounds_parse_as_a_range() {
        assert_eq!(
            parse_bound("FOR VALUES FROM ('0') TO ('274877906944')"),
            Some((0, 274_877_906_944))
        );
        assert_eq!(parse_bound("DEFAULT"), None);
    }
}
