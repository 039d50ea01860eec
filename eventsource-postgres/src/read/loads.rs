//! Reads for aggregate loads: the five columns a replay uses, decoded by
//! position, the whole stream with one statement; and a snapshot with the
//! events after it in one statement.
//!
//! A load looks at each record's version, name, schema version and payload
//! (and its position, to name a record that does not decode); never at its
//! metadata, id, aggregate type or recording time. Selecting those anyway
//! costs the server a `jsonb`-to-text conversion of the metadata per row,
//! the wire their bytes, and the client their conversion and parsing. The
//! statements here select only what a replay reads, and fix each column's
//! type, so each value is decoded without sqlx's per-cell type check.
//!
//! A load on the primary runs on one of the store's kept connections when
//! one is idle (see `append::writers`), and on a pooled one otherwise: sqlx
//! tests every connection handed back to its pool with a round trip of its
//! own, which would wake the server a second time for each load.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use eventsource::store::{Snapshot, SnapshotWanted, StreamLoad};
use eventsource::{Metadata, RecordedEvent, StoreError};
use futures::StreamExt;
use futures::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, PgPool, Postgres, Row};
use uuid::Uuid;

use crate::append::{Writer, Writers};
use crate::error::store_error;
use crate::row::Names;
use crate::sql::Sql;

/// The events of stream `$1` from version `$2`, as a replay reads them
/// (columns as [`Replayed::event`] decodes them).
///
/// One statement for the whole stream, not keyset pages: a load takes each
/// run of records as it arrives and never waits on anything else, so the
/// rows do not pile up, and a second page would cost a round trip and a
/// plan of its own (for a stream that is much of its table, a sequential
/// scan and a sort).
pub(super) const REPLAY_STREAM: &str = "\
SELECT event_name, stream_version, schema_version, payload::text, global_position
FROM {schema}.events
WHERE stream_id = $1 AND stream_version >= $2
ORDER BY stream_version";

/// The snapshot of stream `$1` of revision `$2` at a version up to `$3`,
/// if any, then the events after it (after version 0 without one) up to
/// version `$3`, in one snapshot of the database.
///
/// The snapshot's row (the only one with a `taken_at`) comes first: a
/// `UNION ALL` outside a parallel plan (and a plan reading a CTE is never
/// parallel at its top) emits its branches in order. An outer `ORDER BY`
/// would say so in SQL, but it makes the planner sort the events' branch
/// whole; the reader checks the order instead (a snapshot's row after an
/// event is an error, and so is a version out of sequence, in the replay).
///
/// The events end at `$3` too, which a load up to a version needs no
/// further than; and a range with both ends is estimated at a few rows,
/// where a lower end the planner cannot see (the snapshot's version) alone
/// is estimated at a third of the stream: for a stream that is much of its
/// table, a sequential scan and a sort to find the 50 events of a tail.
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
    AND stream_version <= $3
ORDER BY stream_version)";

/// Where a load's rows are read, and its two statements, as the store's
/// reads for loads hold them (the primary's pool, or a standby's).
pub(crate) struct LoadSource<'r> {
    pub(crate) pool: &'r PgPool,
    /// The store's kept connections, when `pool` is the primary's.
    pub(crate) kept: Option<&'r Writers>,
    /// [`REPLAY_STREAM`] in the store's schema.
    pub(crate) replay_stream: &'r Sql,
    /// [`AFTER_SNAPSHOT`] in the store's schema.
    pub(crate) after_snapshot: &'r Sql,
}

/// Records lent per call of the visitor.
const RUN: usize = 256;

/// Lends the events of `stream_id` from `from_version` to `visit` with the
/// fields of `RecordFields::REPLAY`, read with one statement.
pub(crate) async fn visit_replay(
    reads: &LoadSource<'_>,
    stream_id: &str,
    from_version: u64,
    visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
) -> Result<(), StoreError> {
    let mut replayed = Replayed::new(stream_id);
    let mut lending = Lending::new(visit);
    let conn = LoadConnection::take(reads).await?;
    let kept = conn.is_kept();
    let result = replayed
        .visit_from_on(conn, reads, from_version, &mut lending)
        .await;
    if may_run_again(kept, lending.lent, &result) {
        let conn = LoadConnection::pooled(reads).await?;
        return replayed
            .visit_from_on(conn, reads, from_version, &mut lending)
            .await;
    }
    result
}

/// Reads the snapshot `wanted` accepts and the events after it with one
/// statement, for `load`.
pub(crate) async fn visit_after_snapshot(
    reads: &LoadSource<'_>,
    stream_id: &str,
    wanted: SnapshotWanted,
    load: &mut dyn StreamLoad,
) -> Result<(), StoreError> {
    let mut replayed = Replayed::new(stream_id);
    let mut lending = LendingLoad {
        load,
        lent: false,
        stopped: false,
    };
    let conn = LoadConnection::take(reads).await?;
    let kept = conn.is_kept();
    let result = after_snapshot_on(conn, reads, &mut replayed, wanted, &mut lending).await;
    if may_run_again(kept, lending.lent, &result) {
        let conn = LoadConnection::pooled(reads).await?;
        return after_snapshot_on(conn, reads, &mut replayed, wanted, &mut lending).await;
    }
    result
}

/// Whether a load that ended with `result` on a kept connection (`kept`)
/// may run again on a pooled one: a kept connection that died while idle
/// (a server restart, a cut network) fails with a connection error, and
/// while nothing was `lent` the visitor cannot tell a second run from a
/// first.
fn may_run_again(kept: bool, lent: bool, result: &Result<(), StoreError>) -> bool {
    kept && !lent && matches!(result, Err(StoreError::Connection(_)))
}

/// [`visit_after_snapshot`] on `conn`.
async fn after_snapshot_on(
    mut conn: LoadConnection<'_>,
    reads: &LoadSource<'_>,
    replayed: &mut Replayed,
    wanted: SnapshotWanted,
    load: &mut LendingLoad<'_>,
) -> Result<(), StoreError> {
    // A revision beyond bigint cannot be stored: no snapshot matches.
    let revision = i64::try_from(wanted.revision).unwrap_or(-1);
    let max_version = i64::try_from(wanted.max_version).unwrap_or(i64::MAX);
    let stream_id = replayed.stream_id.clone();
    let result = async {
        let db = conn.conn()?;
        let mut rows = sqlx::query(reads.after_snapshot.get())
            .bind(&*stream_id)
            .bind(revision)
            .bind(max_version)
            .fetch(&mut *db);
        let mut first = match rows.next().await {
            None => return Ok(()),
            Some(row) => Some(row.map_err(store_error)?),
        };
        if let Some(row) = first.take_if(|row| is_snapshot(row)) {
            let snapshot = decode_snapshot(&row, &stream_id, wanted.revision)?;
            if !load.snapshot(&snapshot) {
                // Its state does not decode, say: the events after it are
                // of no use, the whole stream is. The rows left unread are
                // skipped before the next statement.
                drop(rows);
                let rows = sqlx::query(reads.replay_stream.get())
                    .bind(&*stream_id)
                    .bind(1_i64)
                    .fetch(&mut *db);
                return replayed
                    .pass(None, rows, &mut |records| load.events(records))
                    .await;
            }
        }
        replayed
            .pass(first, rows, &mut |records: &[RecordedEvent]| {
                load.events(records)
            })
            .await
    }
    .await;
    conn.release(&result, load.stopped).await;
    result
}

/// A [`StreamLoad`] that notes whether anything reached it, and whether it
/// stopped the read.
struct LendingLoad<'l> {
    load: &'l mut dyn StreamLoad,
    lent: bool,
    stopped: bool,
}

impl LendingLoad<'_> {
    /// The snapshot for the load; `false` when it does not use it. A
    /// snapshot it does not use has not changed it: a run on another
    /// connection may still start afresh.
    fn snapshot(&mut self, snapshot: &Snapshot) -> bool {
        let used = self.load.snapshot(snapshot);
        self.lent |= used;
        used
    }

    fn events(&mut self, records: &[RecordedEvent]) -> bool {
        self.lent = true;
        let go_on = self.load.events(records);
        self.stopped |= !go_on;
        go_on
    }
}

/// A visitor that notes whether anything reached it, and whether it
/// stopped the read.
struct Lending<'v> {
    visit: &'v mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    lent: bool,
    stopped: bool,
}

impl<'v> Lending<'v> {
    fn new(visit: &'v mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send)) -> Self {
        Self {
            visit,
            lent: false,
            stopped: false,
        }
    }

    fn visit(&mut self, records: &[RecordedEvent]) -> bool {
        self.lent = true;
        let go_on = (self.visit)(records);
        self.stopped |= !go_on;
        go_on
    }
}

/// The connection one load runs on.
enum LoadConnection<'w> {
    /// One of the store's kept connections, put back after a load that
    /// went well.
    Kept(Writer<'w>),
    /// A pooled connection, which goes back to its pool when dropped.
    Pooled(PoolConnection<Postgres>),
}

impl<'w> LoadConnection<'w> {
    /// An idle kept connection when `reads` has one, else a pooled one.
    async fn take(reads: &LoadSource<'w>) -> Result<Self, StoreError> {
        if let Some(kept) = reads.kept
            && let Some(writer) = kept.take(reads.pool).await?
        {
            return Ok(Self::Kept(writer));
        }
        Self::pooled(reads).await
    }

    async fn pooled(reads: &LoadSource<'_>) -> Result<Self, StoreError> {
        let conn = reads.pool.acquire().await.map_err(store_error)?;
        Ok(Self::Pooled(conn))
    }

    fn is_kept(&self) -> bool {
        matches!(self, Self::Kept(_))
    }

    fn conn(&mut self) -> Result<&mut PgConnection, StoreError> {
        match self {
            Self::Kept(writer) => writer.conn().ok_or_else(|| {
                StoreError::Backend("a kept connection was lent after it went back".into())
            }),
            Self::Pooled(conn) => Ok(&mut **conn),
        }
    }

    /// Puts a kept connection back after a load that ended with `result`,
    /// or closes it: after an error its state is in doubt. A load whose
    /// visitor `stopped` it left rows unread, which are read off first (as
    /// the pool does with its own connections), so that the next append on
    /// the connection does not wait for them.
    async fn release(self, result: &Result<(), StoreError>, stopped: bool) {
        let Self::Kept(mut writer) = self else {
            return;
        };
        if result.is_err() {
            return;
        }
        if stopped {
            let drained = match writer.conn() {
                Some(conn) => conn.ping().await.is_ok(),
                None => false,
            };
            if !drained {
                return;
            }
        }
        writer.keep();
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
    let taken_at = crate::row::timestamp_of(row, 5, "a snapshot's time taken")?;
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

/// A replay's read in progress: the run lent next and what its records share.
///
/// The run's records are kept from one run to the next and refilled in
/// place: the fields every record of a load shares (stream, placeholders)
/// stay, and only what differs is written, which spares two reference
/// count changes per shared field and event.
struct Replayed {
    stream_id: Arc<str>,
    /// The placeholders of the fields a replay does not read.
    aggregate_type: Arc<str>,
    metadata: Arc<Metadata>,
    names: Names,
    run: Vec<RecordedEvent>,
    /// How many records of `run` the current run holds.
    filled: usize,
}

impl Replayed {
    fn new(stream_id: &str) -> Self {
        Self {
            stream_id: stream_id.into(),
            aggregate_type: "".into(),
            metadata: Arc::default(),
            names: Names::default(),
            run: Vec::with_capacity(RUN),
            filled: 0,
        }
    }

    /// [`REPLAY_STREAM`] from `from_version` on `conn`, until the stream
    /// ends or `visit` stops.
    async fn visit_from_on(
        &mut self,
        mut conn: LoadConnection<'_>,
        reads: &LoadSource<'_>,
        from_version: u64,
        visit: &mut Lending<'_>,
    ) -> Result<(), StoreError> {
        // Versions start at 1; one beyond bigint cannot exist.
        let from = i64::try_from(from_version.max(1)).unwrap_or(i64::MAX);
        let result = match conn.conn() {
            Ok(db) => {
                let rows = sqlx::query(reads.replay_stream.get())
                    .bind(&*self.stream_id)
                    .bind(from)
                    .fetch(db);
                self.pass(None, rows, &mut |records| visit.visit(records))
                    .await
            }
            Err(error) => Err(error),
        };
        conn.release(&result, visit.stopped).await;
        result
    }

    /// Lends `first` and then `rows` in runs, until they end or `visit`
    /// stops.
    ///
    /// The records before a failure come first, as the trait's default
    /// `visit_stream` has it: the visitor may stop at one of them, and then
    /// the failure is not its.
    async fn pass(
        &mut self,
        first: Option<PgRow>,
        mut rows: BoxStream<'_, Result<PgRow, sqlx::Error>>,
        visit: &mut (dyn for<'e> FnMut(&'e [RecordedEvent]) -> bool + Send),
    ) -> Result<(), StoreError> {
        self.filled = 0;
        let mut pending = first.map(Ok);
        loop {
            let row = match pending.take() {
                Some(row) => row,
                None => match rows.next().await {
                    Some(row) => row,
                    None => break,
                },
            };
            let placed = row.map_err(store_error).and_then(|row| self.place(&row));
            match placed {
                Ok(()) => {
                    if self.filled == RUN {
                        if !visit(&self.run[..self.filled]) {
                            return Ok(());
                        }
                        self.filled = 0;
                    }
                }
                Err(error) => {
                    if self.filled > 0 && !visit(&self.run[..self.filled]) {
                        return Ok(());
                    }
                    return Err(error);
                }
            }
        }
        if self.filled > 0 {
            visit(&self.run[..self.filled]);
        }
        Ok(())
    }

    /// One event row (name, version, schema version, payload, position)
    /// as the next record of the run. The statements fix these columns and
    /// their types, so each value is decoded by position without sqlx's
    /// type check (a value that does not decode is still an error, never a
    /// panic).
    fn place(&mut self, row: &PgRow) -> Result<(), StoreError> {
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
        if let Some(record) = self.run.get_mut(self.filled) {
            if !Arc::ptr_eq(&record.event_name, event_name) {
                record.event_name = event_name.clone();
            }
            record.payload = payload;
            record.stream_version = stream_version;
            record.global_position = global_position;
            record.schema_version = schema_version;
        } else {
            self.run.push(RecordedEvent {
                event_name: event_name.clone(),
                payload,
                stream_version,
                global_position,
                schema_version,
                recorded_at: DateTime::UNIX_EPOCH,
                stream_id: self.stream_id.clone(),
                aggregate_type: self.aggregate_type.clone(),
                event_id: Uuid::nil(),
                metadata: self.metadata.clone(),
            });
        }
        self.filled += 1;
        Ok(())
    }
}
