//! Reads for aggregate loads: the five columns a replay uses, decoded by
//! position, and a snapshot with the events after it in one statement.
//!
//! A load looks at each record's version, name, schema version and payload
//! (and its position, to name a record that does not decode); never at its
//! metadata, id, aggregate type or recording time. Selecting those anyway
//! costs the server a `jsonb`-to-text conversion of the metadata per row,
//! the wire their bytes, and the client their conversion and parsing. The
//! statements here select only what a replay reads, and fix each column's
//! type, so each value is decoded without sqlx's per-cell type check.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use eventsource::store::{Snapshot, SnapshotWanted, StreamLoad};
use eventsource::{Metadata, RecordedEvent, StoreError};
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::Row;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::Reads;
use crate::error::store_error;
use crate::row::Names;

/// The events of stream `$1` from version `$2`, at most `$3`, as a replay
/// reads them (columns as [`Replayed::event`] decodes them).
pub(super) const REPLAY_STREAM: &str = "\
SELECT event_name, stream_version, schema_version, payload::text, global_position
FROM {schema}.events
WHERE stream_id = $1 AND stream_version >= $2
ORDER BY stream_version LIMIT $3";

/// The snapshot of stream `$1` of revision `$2` at a version up to `$3`,
/// if any, then at most `$4` events after it (after version 0 without one),
/// in one snapshot of the database.
///
/// The snapshot's row (the only one with a `taken_at`) comes first: a
/// `UNION ALL` outside a parallel plan (and a plan reading a CTE is never
/// parallel at its top) emits its branches in order. An outer `ORDER BY`
/// would say so in SQL, but it makes the planner sort the events' branch
/// whole; the reader checks the order instead (a snapshot's row after an
/// event is an error, and so is a version out of sequence, in the replay).
pub(super) const AFTER_SNAPSHOT: &str = "\
WITH snapshot AS MATERIALIZED (
    SELECT aggregate_type, version, state, taken_at FROM {schema}.snapshots
    WHERE stream_id = $1 AND revision = $2 AND version <= $3
    LIMIT 1
)
SELECT aggregate_type, version, NULL::int4, state::text, NULL::int8, taken_at FROM snapshot
UNION ALL
(SELECT event_name, stream_version, schema_version, payload::text, global_position, NULL
FROM {schema}.events
WHERE stream_id = $1 AND stream_version > COALESCE((SELECT version FROM snapshot), 0)
ORDER BY stream_version LIMIT $4)";

/// Records lent per call of the visitor.
const RUN: usize = 256;

/// Lends the events of `stream_id` from `from_version` to `visit` with the
/// fields of `RecordFields::REPLAY`, a page at a time.
pub(crate) async fn visit_replay(
    reads: &Reads,
    stream_id: &str,
    from_version: u64,
    visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
) -> Result<(), StoreError> {
    let mut replayed = Replayed::new(stream_id);
    replayed.visit_from(reads, from_version, visit).await
}

/// Reads the snapshot `wanted` accepts and the events after it in one
/// statement (more pages, if any, as [`visit_replay`] reads them), for `load`.
pub(crate) async fn visit_after_snapshot(
    reads: &Reads,
    stream_id: &str,
    wanted: SnapshotWanted,
    load: &mut dyn StreamLoad,
) -> Result<(), StoreError> {
    let page = i64::from(reads.options.page_size());
    // A revision beyond bigint cannot be stored: no snapshot matches.
    let revision = i64::try_from(wanted.revision).unwrap_or(-1);
    let max_version = i64::try_from(wanted.max_version).unwrap_or(i64::MAX);
    let mut replayed = Replayed::new(stream_id);
    let mut rows = sqlx::query(reads.statements.after_snapshot.get())
        .bind(stream_id)
        .bind(revision)
        .bind(max_version)
        .bind(page)
        .fetch(&reads.pool);
    let mut first = match rows.next().await {
        None => return Ok(()),
        Some(row) => Some(row.map_err(store_error)?),
    };
    if let Some(row) = first.take_if(|row| is_snapshot(row)) {
        let snapshot = decode_snapshot(&row, stream_id, wanted.revision)?;
        if !load.snapshot(&snapshot) {
            // Its state does not decode, say: the events after it are of
            // no use, the whole stream is.
            drop(rows);
            return replayed
                .visit_from(reads, 1, &mut |records| load.events(records))
                .await;
        }
    }
    let visit = &mut |records: &[RecordedEvent]| load.events(records);
    match replayed.pass(first, rows, page, visit).await? {
        Pass::Stopped | Pass::Ended => Ok(()),
        Pass::Full { next } => replayed.visit_from(reads, next, visit).await,
    }
}

/// Whether a row of [`AFTER_SNAPSHOT`] is the snapshot's.
fn is_snapshot(row: &PgRow) -> bool {
    row.try_get_unchecked::<Option<DateTime<Utc>>, _>(5)
        .is_ok_and(|taken| taken.is_some())
}

fn decode_snapshot(row: &PgRow, stream_id: &str, revision: u64) -> Result<Snapshot, StoreError> {
    let version: i64 = row.try_get_unchecked(1).map_err(store_error)?;
    let version = u64::try_from(version).map_err(|_| {
        StoreError::Backend(
            format!("the snapshot of `{stream_id}` has a negative version ({version})").into(),
        )
    })?;
    let aggregate_type: &str = row.try_get_unchecked(0).map_err(store_error)?;
    let state: &str = row.try_get_unchecked(3).map_err(store_error)?;
    let taken_at: DateTime<Utc> = row.try_get_unchecked(5).map_err(store_error)?;
    Ok(Snapshot {
        stream_id: stream_id.into(),
        aggregate_type: aggregate_type.into(),
        version,
        // The statement selected this revision only.
        revision,
        state: state.into(),
        taken_at,
    })
}

/// How a page ended.
enum Pass {
    /// The visitor stopped.
    Stopped,
    /// Fewer rows than a page: the stream ends here.
    Ended,
    /// A full page: there may be more from version `next`.
    Full { next: u64 },
}

/// A replay's read in progress: the run lent next and what its records share.
struct Replayed {
    stream_id: Arc<str>,
    /// The placeholders of the fields a replay does not read.
    aggregate_type: Arc<str>,
    metadata: Arc<Metadata>,
    names: Names,
    run: Vec<RecordedEvent>,
}

impl Replayed {
    fn new(stream_id: &str) -> Self {
        Self {
            stream_id: stream_id.into(),
            aggregate_type: "".into(),
            metadata: Arc::default(),
            names: Names::default(),
            run: Vec::with_capacity(RUN),
        }
    }

    /// Pages of [`REPLAY_STREAM`] from `from_version` until the stream
    /// ends or `visit` stops.
    async fn visit_from(
        &mut self,
        reads: &Reads,
        from_version: u64,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<(), StoreError> {
        let page = i64::from(reads.options.page_size());
        // Versions start at 1; one beyond bigint cannot exist.
        let mut next = i64::try_from(from_version.max(1)).unwrap_or(i64::MAX);
        loop {
            let rows = sqlx::query(reads.statements.replay_stream.get())
                .bind(&*self.stream_id)
                .bind(next)
                .bind(page)
                .fetch(&reads.pool);
            match self.pass(None, rows, page, visit).await? {
                Pass::Stopped | Pass::Ended => return Ok(()),
                Pass::Full { next: after } => {
                    next = i64::try_from(after).unwrap_or(i64::MAX);
                }
            }
        }
    }

    /// Lends `first` and then `rows` (at most `page` in all) in runs.
    ///
    /// The records before a failure come first, as the trait's default
    /// `visit_stream` has it: the visitor may stop at one of them, and then
    /// the failure is not its.
    async fn pass(
        &mut self,
        first: Option<PgRow>,
        mut rows: BoxStream<'_, Result<PgRow, sqlx::Error>>,
        page: i64,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<Pass, StoreError> {
        self.run.clear();
        let mut seen = 0;
        let mut last = 0;
        let mut pending = first.map(Ok);
        loop {
            let row = match pending.take() {
                Some(row) => row,
                None => match rows.next().await {
                    Some(row) => row,
                    None => break,
                },
            };
            seen += 1;
            let decoded = row.map_err(store_error).and_then(|row| self.event(&row));
            match decoded {
                Ok(record) => {
                    last = record.stream_version;
                    self.run.push(record);
                    if self.run.len() == RUN {
                        if !visit(&self.run) {
                            return Ok(Pass::Stopped);
                        }
                        self.run.clear();
                    }
                }
                Err(error) => {
                    if !self.run.is_empty() && !visit(&self.run) {
                        return Ok(Pass::Stopped);
                    }
                    return Err(error);
                }
            }
        }
        if !self.run.is_empty() && !visit(&self.run) {
            return Ok(Pass::Stopped);
        }
        if seen < page {
            return Ok(Pass::Ended);
        }
        Ok(Pass::Full {
            next: last.saturating_add(1),
        })
    }

    /// One event row: name, version, schema version, payload, position.
    /// The statements fix these columns and their types, so each value is
    /// decoded by position without sqlx's type check (a value that does
    /// not decode is still an error, never a panic).
    fn event(&mut self, row: &PgRow) -> Result<RecordedEvent, StoreError> {
        if row.columns().len() > 5 && is_snapshot(row) {
            return Err(StoreError::Backend(
                format!(
                    "the snapshot of stream `{}` came after its events: the server returned \
                     the rows out of order",
                    self.stream_id
                )
                .into(),
            ));
        }
        let position: i64 = row.try_get_unchecked(4).unwrap_or(0);
        let global_position = u64::try_from(position).unwrap_or(0);
        let corrupt = |reason: String| StoreError::Corrupt {
            global_position,
            reason,
        };
        let column = |e: sqlx::Error| corrupt(format!("unreadable column: {e}"));
        if global_position == 0 {
            return Err(corrupt(format!(
                "an event of stream `{}` has global position {position}",
                self.stream_id
            )));
        }
        let version: i64 = row.try_get_unchecked(1).map_err(column)?;
        let stream_version = u64::try_from(version)
            .ok()
            .filter(|v| *v > 0)
            .ok_or_else(|| corrupt(format!("stream `{}` has version {version}", self.stream_id)))?;
        let event_name = self
            .names
            .event_name(row.try_get_unchecked::<&str, _>(0).map_err(column)?);
        let schema: i32 = row.try_get_unchecked(2).map_err(column)?;
        let schema_version = u32::try_from(schema).map_err(|_| {
            corrupt(format!(
                "event `{event_name}` of stream `{}` at version {stream_version} has schema \
                 version {schema}",
                self.stream_id
            ))
        })?;
        let payload: Arc<str> = row.try_get_unchecked::<&str, _>(3).map_err(column)?.into();
        Ok(RecordedEvent {
            event_name,
            payload,
            stream_version,
            global_position,
            schema_version,
            recorded_at: DateTime::UNIX_EPOCH,
            stream_id: self.stream_id.clone(),
            aggregate_type: self.aggregate_type.clone(),
            event_id: Uuid::nil(),
            metadata: self.metadata.clone(),
        })
    }
}
