//! Streamed reads: a stream from a version, the global log from a position.
//!
//! Both walk keyset pages (`WHERE key > last ORDER BY key LIMIT n`) and
//! yield each row as it arrives: memory does not grow with the result, and
//! a slow consumer holds a query (and its snapshot) open for one page at a
//! time, not for the whole read.

pub(crate) mod horizon_stall;
pub(crate) mod subscribe;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use eventsource::store::{EventFilter, EventStream};
use eventsource::{RecordedEvent, StoreError};
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::Row;
use sqlx::postgres::PgRow;

use crate::backoff::Backoff;
use crate::error::store_error;
use crate::row::{self, Names, Unreadable};
use crate::sql::FilterShape;
use crate::store::Inner;
use horizon_stall::Stall;

pub(crate) fn read_stream(inner: Arc<Inner>, stream_id: &str, from_version: u64) -> EventStream {
    let stream_id: Arc<str> = stream_id.into();
    let limit = i64::from(inner.options.page_size());
    // Versions start at 1; one beyond bigint cannot exist.
    let mut next = i64::try_from(from_version.max(1)).unwrap_or(i64::MAX);
    Box::pin(async_stream::stream! {
        let mut names = Names::default();
        loop {
            let mut rows = sqlx::query(inner.sql.read_stream.get())
                .bind(&*stream_id)
                .bind(next)
                .bind(limit)
                .fetch(&inner.pool);
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
                // Advance by the row's own version first, so a row that does
                // not decode is skipped and the rest stays readable.
                match row.try_get::<i64, _>(3) {
                    Ok(version) => next = version.saturating_add(1),
                    Err(err) => {
                        yield Err(store_error(err));
                        return;
                    }
                }
                yield row::decode(&row, &mut names).map_err(Unreadable::into_store_error);
            }
            if seen < limit {
                return;
            }
        }
    })
}

/// A global read's filter, as bind parameters.
pub(crate) struct Bound<'f> {
    shape: FilterShape,
    names: Vec<&'f str>,
    types: Vec<&'f str>,
    since: Option<DateTime<Utc>>,
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
            },
            names: names.unwrap_or_default(),
            types: types.unwrap_or_default(),
            since: filter.recorded_since,
        }
    }

    /// The count statement (see `sql::count_all`) with this filter bound.
    async fn count(
        &self,
        inner: &Inner,
        after: i64,
        before: i64,
    ) -> Result<(i64, Option<i64>, i64), StoreError> {
        let mut query = sqlx::query(inner.sql.count_all(self.shape).get())
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
        let row = query.fetch_one(&inner.pool).await.map_err(store_error)?;
        Ok((
            row.try_get(0).map_err(store_error)?,
            row.try_get(1).map_err(store_error)?,
            row.try_get(2).map_err(store_error)?,
        ))
    }

    /// Up to a page of rows with `after < position < before`, in order.
    pub(crate) fn page<'a>(
        &'a self,
        inner: &'a Inner,
        after: i64,
        before: i64,
    ) -> BoxStream<'a, Result<PgRow, sqlx::Error>> {
        let mut query = sqlx::query(inner.sql.read_all(self.shape).get())
            .bind(after)
            .bind(before)
            .bind(i64::from(inner.options.page_size()));
        if self.shape.names {
            query = query.bind(&self.names);
        }
        if self.shape.types {
            query = query.bind(&self.types);
        }
        if let Some(since) = self.since {
            query = query.bind(since);
        }
        query.fetch(&inner.pool)
    }
}

/// The gap-free horizon and the highest committed position (see the crate docs).
pub(crate) async fn horizon(inner: &Inner) -> Result<(i64, Option<i64>), StoreError> {
    let row = sqlx::query(inner.sql.horizon.get())
        .fetch_one(&inner.pool)
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
    inner: &Inner,
    from_position: u64,
    filter: &EventFilter,
) -> Result<u64, StoreError> {
    let Some(after) = start_after(from_position) else {
        return Ok(0);
    };
    let bound = Bound::new(filter);
    let (horizon_now, head, counted) = bound.count(inner, after, i64::MAX).await?;
    let Some(target) = head.filter(|h| *h > after) else {
        return Ok(0);
    };
    if horizon_now > target {
        return Ok(u64::try_from(counted).unwrap_or(0));
    }
    let mut recheck = Backoff::new(Duration::from_millis(1), inner.options.recheck_max());
    let mut stall = Stall::new("count_events", inner.options.stall_warning());
    loop {
        tokio::time::sleep(recheck.next_delay()).await;
        let (horizon_now, _, counted) = bound.count(inner, after, target.saturating_add(1)).await?;
        if horizon_now > target {
            return Ok(u64::try_from(counted).unwrap_or(0));
        }
        stall.observe(inner, horizon_now, Some(target)).await;
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
pub(crate) fn read_all(inner: Arc<Inner>, from_position: u64, filter: EventFilter) -> EventStream {
    Box::pin(async_stream::stream! {
        let Some(mut after) = start_after(from_position) else {
            return;
        };
        let bound = Bound::new(&filter);
        let page_size = i64::from(inner.options.page_size());
        let mut names = Names::default();
        let mut recheck = Backoff::new(Duration::from_millis(1), inner.options.recheck_max());
        let mut stall = Stall::new("read_all", inner.options.stall_warning());
        let (mut horizon_now, head) = match horizon(&inner).await {
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
                    let mut rows = bound.page(&inner, after, before);
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
            stall.observe(&inner, horizon_now, Some(target)).await;
            tokio::time::sleep(recheck.next_delay()).await;
            horizon_now = match horizon(&inner).await {
                Ok((h, _)) => h,
                Err(err) => {
                    yield Err(err);
                    return;
                }
            };
        }
    })
}
