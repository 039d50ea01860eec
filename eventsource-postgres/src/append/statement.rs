//! The append request and its statements: a batch validated into the
//! statement's parameters, the statement written whole in its four checked
//! forms and its two happy-path ones, and what each of their answers means.
//! Everything else in `append` is built on this file; it depends on none of
//! it.

use std::sync::Arc;

use eventsource::store::{AppendResult, rules};
use eventsource::{ExpectedVersion, Metadata, NewEvent, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::error::{is_bad_value, lost_race, store_error, to_i64, unique_violation};
use crate::positions::MAX_EVENTS_PER_TRANSACTION;
use crate::row::metadata_json;
use crate::schema::Identifier;
use crate::sql::Sql;

/// The append of a batch, as its own transaction (autocommit).
///
/// Parameters: `$1` stream id, `$2` aggregate type, `$3` expectation kind
/// (0 any, 1 no stream, 2 exact), `$4` expected version, then the batch as
/// parallel arrays: `$5` ids, `$6` names, `$7` schema versions, `$8`
/// payloads, `$9` metadata (JSON text). One round trip, whatever the size.
///
/// It always returns one row: the stream's head before the append, which
/// checks passed, and what was inserted. Checks that fail insert nothing
/// instead of raising, so the caller learns the actual version in the same
/// round trip and a caller's transaction stays usable.
///
/// `tx` is `MATERIALIZED` on purpose. `pg_current_xact_id()` is a stable
/// function; inlined into the query, the planner may evaluate it while
/// estimating selectivity for a custom plan, which assigns the transaction
/// id at bind time, before the snapshot the statement then reads with. A
/// transaction committing in between would have a higher id yet be visible,
/// and appending after its event would order the stream backwards.
/// `order_ok` refuses that case in any event (see `single.rs`, which retries
/// it in a new transaction); materializing makes it rare.
///
/// Being its own transaction, no earlier append of it used positions: the
/// events take the transaction's range from its start (`base` is `low`).
/// Ids are not looked up first: a stored id fails the statement alone with a
/// unique violation, answered from the stored rows afterwards.
const APPEND: &str = "\
WITH tx AS MATERIALIZED (
    SELECT pg_current_xact_id() AS xid8,
        pg_current_xact_id()::text::bigint * {slots} AS low
), checked AS MATERIALIZED (
    SELECT t.xid8, t.low, n.base, h.stream_version AS version, h.aggregate_type,
        CASE $3::int4 WHEN 0 THEN true
            WHEN 1 THEN h.stream_version IS NULL
            ELSE h.stream_version IS NOT DISTINCT FROM $4::int8 END AS version_ok,
        (h.aggregate_type IS NULL OR h.aggregate_type = $2::text) AS type_ok,
        (n.base - t.low + cardinality($5::uuid[]) <= {max_events}) AS room_ok,
        (h.global_position IS NULL OR h.global_position <= n.base) AS order_ok,
        true AS ids_free,
        (h.event_name IS NULL OR h.event_name <> 'eventsource.StreamDeleted') AS open_ok
    FROM tx t
    CROSS JOIN LATERAL (SELECT t.low AS base) n
    LEFT JOIN LATERAL (
        SELECT e.stream_version, e.aggregate_type, e.global_position, e.event_name
        FROM {schema}.events e WHERE e.stream_id = $1
        ORDER BY e.stream_version DESC LIMIT 1
    ) h ON true
), ins AS (
    INSERT INTO {schema}.events (global_position, transaction_id, stream_id, aggregate_type,
        stream_version, event_id, event_name, schema_version, payload, metadata)
    SELECT c.base + u.ord, c.xid8, $1, $2, COALESCE(c.version, 0) + u.ord,
        u.event_id, u.event_name, u.schema_version, u.payload::json, u.metadata::json
    FROM checked c, unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[])
        WITH ORDINALITY AS u(event_id, event_name, schema_version, payload, metadata, ord)
    WHERE c.version_ok AND c.type_ok AND c.room_ok AND c.order_ok AND c.ids_free AND c.open_ok
    RETURNING global_position
)
SELECT c.version, c.aggregate_type, c.version_ok, c.type_ok, c.room_ok, c.order_ok,
    i.first_position, i.last_position, i.inserted, c.ids_free,
    c.open_ok
FROM checked c,
    (SELECT min(global_position) AS first_position,
        max(global_position) AS last_position, count(*) AS inserted FROM ins) i";

/// [`APPEND`] inside a caller's transaction.
///
/// An earlier append of the same transaction may have used positions of its
/// range: `base`, the last one used, is found with one index probe. (The
/// statement that is its own transaction leaves the probe out, which is more
/// than saving an index probe: the planner inlines `n` into three
/// expressions, and each copy is a subplan the executor sets up on every
/// execution.)
///
/// `ids_free` looks for the batch's ids before inserting: a unique violation
/// here would abort the caller's whole transaction. Ids of a transaction
/// still in flight are invisible to the check; the insert then waits for
/// it, and collides only if it commits.
const APPEND_IN: &str = "\
WITH tx AS MATERIALIZED (
    SELECT pg_current_xact_id() AS xid8,
        pg_current_xact_id()::text::bigint * {slots} AS low
), checked AS MATERIALIZED (
    SELECT t.xid8, t.low, n.base, h.stream_version AS version, h.aggregate_type,
        CASE $3::int4 WHEN 0 THEN true
            WHEN 1 THEN h.stream_version IS NULL
            ELSE h.stream_version IS NOT DISTINCT FROM $4::int8 END AS version_ok,
        (h.aggregate_type IS NULL OR h.aggregate_type = $2::text) AS type_ok,
        (n.base - t.low + cardinality($5::uuid[]) <= {max_events}) AS room_ok,
        (h.global_position IS NULL OR h.global_position <= n.base) AS order_ok,
        NOT EXISTS (SELECT 1 FROM {schema}.events d WHERE d.event_id = ANY($5::uuid[])) AS ids_free,
        (h.event_name IS NULL OR h.event_name <> 'eventsource.StreamDeleted') AS open_ok
    FROM tx t
    CROSS JOIN LATERAL (SELECT COALESCE(
        (SELECT max(e.global_position) FROM {schema}.events e
          WHERE e.global_position >= t.low AND e.global_position < t.low + {slots}),
        t.low) AS base) n
    LEFT JOIN LATERAL (
        SELECT e.stream_version, e.aggregate_type, e.global_position, e.event_name
        FROM {schema}.events e WHERE e.stream_id = $1
        ORDER BY e.stream_version DESC LIMIT 1
    ) h ON true
), ins AS (
    INSERT INTO {schema}.events (global_position, transaction_id, stream_id, aggregate_type,
        stream_version, event_id, event_name, schema_version, payload, metadata)
    SELECT c.base + u.ord, c.xid8, $1, $2, COALESCE(c.version, 0) + u.ord,
        u.event_id, u.event_name, u.schema_version, u.payload::json, u.metadata::json
    FROM checked c, unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[])
        WITH ORDINALITY AS u(event_id, event_name, schema_version, payload, metadata, ord)
    WHERE c.version_ok AND c.type_ok AND c.room_ok AND c.order_ok AND c.ids_free AND c.open_ok
    RETURNING global_position
)
SELECT c.version, c.aggregate_type, c.version_ok, c.type_ok, c.room_ok, c.order_ok,
    i.first_position, i.last_position, i.inserted, c.ids_free,
    c.open_ok
FROM checked c,
    (SELECT min(global_position) AS first_position,
        max(global_position) AS last_position, count(*) AS inserted FROM ins) i";

/// [`APPEND`] for a single event (the common command), which takes `$5` to
/// `$9` as plain values: that spares the server the function scan and the
/// aggregate over what was inserted.
const APPEND_ONE: &str = "\
WITH tx AS MATERIALIZED (
    SELECT pg_current_xact_id() AS xid8,
        pg_current_xact_id()::text::bigint * {slots} AS low
), checked AS MATERIALIZED (
    SELECT t.xid8, t.low, n.base, h.stream_version AS version, h.aggregate_type,
        CASE $3::int4 WHEN 0 THEN true
            WHEN 1 THEN h.stream_version IS NULL
            ELSE h.stream_version IS NOT DISTINCT FROM $4::int8 END AS version_ok,
        (h.aggregate_type IS NULL OR h.aggregate_type = $2::text) AS type_ok,
        (n.base - t.low + 1 <= {max_events}) AS room_ok,
        (h.global_position IS NULL OR h.global_position <= n.base) AS order_ok,
        true AS ids_free,
        (h.event_name IS NULL OR h.event_name <> 'eventsource.StreamDeleted') AS open_ok
    FROM tx t
    CROSS JOIN LATERAL (SELECT t.low AS base) n
    LEFT JOIN LATERAL (
        SELECT e.stream_version, e.aggregate_type, e.global_position, e.event_name
        FROM {schema}.events e WHERE e.stream_id = $1
        ORDER BY e.stream_version DESC LIMIT 1
    ) h ON true
), ins AS (
    INSERT INTO {schema}.events (global_position, transaction_id, stream_id, aggregate_type,
        stream_version, event_id, event_name, schema_version, payload, metadata)
    SELECT c.base + 1, c.xid8, $1, $2, COALESCE(c.version, 0) + 1,
        $5::uuid, $6::text, $7::int4, $8::text::json, $9::text::json
    FROM checked c
    WHERE c.version_ok AND c.type_ok AND c.room_ok AND c.order_ok AND c.ids_free AND c.open_ok
    RETURNING global_position
)
SELECT c.version, c.aggregate_type, c.version_ok, c.type_ok, c.room_ok, c.order_ok,
    i.global_position, i.global_position, (i.global_position IS NOT NULL)::int4::int8, c.ids_free,
    c.open_ok
FROM checked c LEFT JOIN ins i ON true";

/// [`APPEND`] on its happy path only, for the store's own append (its own
/// transaction): it inserts when every check passes, and answers the first
/// and last position, the first new version and the number of rows
/// inserted; 0 rows when a check failed. The caller then runs [`APPEND`]
/// itself, in a new transaction, which writes if the stream has moved on
/// meanwhile or says which check failed. Almost every append passes, and
/// without the diagnosis its plan is one insert fed by one index probe: no
/// materialized checks, nothing joined back to the inserted rows.
const WRITE: &str = "\
WITH tx AS MATERIALIZED (
    SELECT pg_current_xact_id() AS xid8,
        pg_current_xact_id()::text::bigint * {slots} AS low
), ins AS (
    INSERT INTO {schema}.events (global_position, transaction_id, stream_id, aggregate_type,
        stream_version, event_id, event_name, schema_version, payload, metadata)
    SELECT t.low + u.ord, t.xid8, $1, $2, COALESCE(h.stream_version, 0) + u.ord,
        u.event_id, u.event_name, u.schema_version, u.payload::json, u.metadata::json
    FROM tx t
    LEFT JOIN LATERAL (
        SELECT e.stream_version, e.aggregate_type, e.global_position, e.event_name
        FROM {schema}.events e WHERE e.stream_id = $1
        ORDER BY e.stream_version DESC LIMIT 1
    ) h ON true
    CROSS JOIN unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[])
        WITH ORDINALITY AS u(event_id, event_name, schema_version, payload, metadata, ord)
    WHERE CASE $3::int4 WHEN 0 THEN true
            WHEN 1 THEN h.stream_version IS NULL
            ELSE h.stream_version IS NOT DISTINCT FROM $4::int8 END
        AND (h.aggregate_type IS NULL OR h.aggregate_type = $2::text)
        AND cardinality($5::uuid[]) <= {max_events}
        AND (h.global_position IS NULL OR h.global_position <= t.low)
        AND (h.event_name IS NULL OR h.event_name <> 'eventsource.StreamDeleted')
    RETURNING global_position, stream_version
)
SELECT min(global_position), max(global_position), min(stream_version), count(*) FROM ins";

/// [`WRITE`] for a single event, with plain parameters as in
/// [`APPEND_ONE`]: no row at all when a check failed.
const WRITE_ONE: &str = "\
WITH tx AS MATERIALIZED (
    SELECT pg_current_xact_id() AS xid8,
        pg_current_xact_id()::text::bigint * {slots} AS low
)
INSERT INTO {schema}.events (global_position, transaction_id, stream_id, aggregate_type,
    stream_version, event_id, event_name, schema_version, payload, metadata)
SELECT t.low + 1, t.xid8, $1, $2, COALESCE(h.stream_version, 0) + 1,
    $5::uuid, $6::text, $7::int4, $8::text::json, $9::text::json
FROM tx t
LEFT JOIN LATERAL (
    SELECT e.stream_version, e.aggregate_type, e.global_position, e.event_name
    FROM {schema}.events e WHERE e.stream_id = $1
    ORDER BY e.stream_version DESC LIMIT 1
) h ON true
WHERE CASE $3::int4 WHEN 0 THEN true
        WHEN 1 THEN h.stream_version IS NULL
        ELSE h.stream_version IS NOT DISTINCT FROM $4::int8 END
    AND (h.aggregate_type IS NULL OR h.aggregate_type = $2::text)
    AND (h.global_position IS NULL OR h.global_position <= t.low)
    AND (h.event_name IS NULL OR h.event_name <> 'eventsource.StreamDeleted')
RETURNING global_position, global_position, stream_version, 1::int8";

/// [`APPEND_ONE`] inside a caller's transaction (see [`APPEND_IN`]).
const APPEND_ONE_IN: &str = "\
WITH tx AS MATERIALIZED (
    SELECT pg_current_xact_id() AS xid8,
        pg_current_xact_id()::text::bigint * {slots} AS low
), checked AS MATERIALIZED (
    SELECT t.xid8, t.low, n.base, h.stream_version AS version, h.aggregate_type,
        CASE $3::int4 WHEN 0 THEN true
            WHEN 1 THEN h.stream_version IS NULL
            ELSE h.stream_version IS NOT DISTINCT FROM $4::int8 END AS version_ok,
        (h.aggregate_type IS NULL OR h.aggregate_type = $2::text) AS type_ok,
        (n.base - t.low + 1 <= {max_events}) AS room_ok,
        (h.global_position IS NULL OR h.global_position <= n.base) AS order_ok,
        NOT EXISTS (SELECT 1 FROM {schema}.events d WHERE d.event_id = $5::uuid) AS ids_free,
        (h.event_name IS NULL OR h.event_name <> 'eventsource.StreamDeleted') AS open_ok
    FROM tx t
    CROSS JOIN LATERAL (SELECT COALESCE(
        (SELECT max(e.global_position) FROM {schema}.events e
          WHERE e.global_position >= t.low AND e.global_position < t.low + {slots}),
        t.low) AS base) n
    LEFT JOIN LATERAL (
        SELECT e.stream_version, e.aggregate_type, e.global_position, e.event_name
        FROM {schema}.events e WHERE e.stream_id = $1
        ORDER BY e.stream_version DESC LIMIT 1
    ) h ON true
), ins AS (
    INSERT INTO {schema}.events (global_position, transaction_id, stream_id, aggregate_type,
        stream_version, event_id, event_name, schema_version, payload, metadata)
    SELECT c.base + 1, c.xid8, $1, $2, COALESCE(c.version, 0) + 1,
        $5::uuid, $6::text, $7::int4, $8::text::json, $9::text::json
    FROM checked c
    WHERE c.version_ok AND c.type_ok AND c.room_ok AND c.order_ok AND c.ids_free AND c.open_ok
    RETURNING global_position
)
SELECT c.version, c.aggregate_type, c.version_ok, c.type_ok, c.room_ok, c.order_ok,
    i.global_position, i.global_position, (i.global_position IS NOT NULL)::int4::int8, c.ids_free,
    c.open_ok
FROM checked c LEFT JOIN ins i ON true";

/// Where the batch's ids (`$1`) are stored, by their place in the batch;
/// `ours` when the looking transaction wrote them.
const STORED_IDS: &str = "\
SELECT b.ord, e.stream_id, e.stream_version, e.global_position,
    COALESCE(e.transaction_id = pg_current_xact_id_if_assigned(), false)
FROM unnest($1::uuid[]) WITH ORDINALITY AS b(event_id, ord)
JOIN {schema}.events e ON e.event_id = b.event_id
ORDER BY b.ord";

/// The version and position of the last event of stream `$1`, and whether
/// it is a tombstone.
const STREAM_HEAD: &str = "\
SELECT stream_version, global_position, event_name = 'eventsource.StreamDeleted'
FROM {schema}.events
WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1";

/// The statements of one store.
#[derive(Debug)]
pub(super) struct Statements {
    append: Sql,
    append_in: Sql,
    append_one: Sql,
    append_one_in: Sql,
    write: Sql,
    write_one: Sql,
    stored_ids: Sql,
    stream_head: Sql,
}

impl Statements {
    pub(super) fn new(schema: &Identifier) -> Self {
        Self {
            append: Sql::new(APPEND, schema),
            append_in: Sql::new(APPEND_IN, schema),
            append_one: Sql::new(APPEND_ONE, schema),
            append_one_in: Sql::new(APPEND_ONE_IN, schema),
            write: Sql::new(WRITE, schema),
            write_one: Sql::new(WRITE_ONE, schema),
            stored_ids: Sql::new(STORED_IDS, schema),
            stream_head: Sql::new(STREAM_HEAD, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(super) fn all(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("append", &self.append),
            ("append_in", &self.append_in),
            ("append_one", &self.append_one),
            ("append_one_in", &self.append_one_in),
            ("write", &self.write),
            ("write_one", &self.write_one),
            ("stored_ids", &self.stored_ids),
            ("stream_head", &self.stream_head),
        ]
    }
}

/// A validated append, with the batch as the statement's parallel arrays.
pub(crate) struct Request<'a> {
    pub(super) stream_id: &'a str,
    pub(super) aggregate_type: &'a str,
    pub(super) expected: ExpectedVersion,
    /// `expected` as the statement's kind (0 any, 1 no stream, 2 exact) and
    /// version parameters.
    pub(super) kind: i32,
    pub(super) version: i64,
    pub(super) ids: Vec<Uuid>,
    pub(super) names: Vec<&'a str>,
    pub(super) schema_versions: Vec<i32>,
    pub(super) payloads: Vec<&'a str>,
    pub(super) metadata: Vec<String>,
}

impl<'a> Request<'a> {
    pub(crate) fn new(
        stream_id: &'a str,
        aggregate_type: &'a str,
        expected: ExpectedVersion,
        events: &'a [NewEvent],
    ) -> Result<Self, StoreError> {
        rules::check_append(stream_id, aggregate_type, events).map_err(StoreError::Invalid)?;
        let (kind, version) = match expected {
            ExpectedVersion::Any => (0, 0),
            ExpectedVersion::NoStream => (1, 0),
            ExpectedVersion::Exact(v) => (2, to_i64("expected version", v)?),
        };
        let schema_versions = events
            .iter()
            .map(|e| {
                i32::try_from(e.schema_version).map_err(|_| {
                    StoreError::invalid(format!(
                        "schema version {} of event {} does not fit PostgreSQL's integer",
                        e.schema_version, e.event_id
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            stream_id,
            aggregate_type,
            expected,
            kind,
            version,
            ids: events.iter().map(|e| e.event_id).collect(),
            names: events.iter().map(|e| &*e.event_name).collect(),
            schema_versions,
            payloads: events.iter().map(|e| &*e.payload).collect(),
            metadata: metadata_texts(events)?,
        })
    }

    pub(super) fn conflict(&self, actual: Option<u64>) -> StoreError {
        StoreError::Conflict {
            stream_id: self.stream_id.into(),
            expected: self.expected,
            actual,
        }
    }
}

/// Each event's metadata as JSON text. The events of one command carry the
/// same metadata, and serializing it (two UUIDs as text, say) costs more
/// than comparing it: an event whose metadata equals the one before it
/// takes a copy of that text.
fn metadata_texts(events: &[NewEvent]) -> Result<Vec<String>, StoreError> {
    let mut texts: Vec<String> = Vec::with_capacity(events.len());
    let mut previous: Option<&Metadata> = None;
    for event in events {
        let text = match (previous, texts.last()) {
            (Some(metadata), Some(text)) if *metadata == event.metadata => text.clone(),
            _ => metadata_json(&event.metadata)?,
        };
        previous = Some(&event.metadata);
        texts.push(text);
    }
    Ok(texts)
}

/// The last event of `stream_id`: its version and position, and whether
/// it is a tombstone.
pub(super) async fn stream_head(
    q: &Statements,
    conn: &mut PgConnection,
    stream_id: &str,
) -> Result<Option<(u64, u64, bool)>, StoreError> {
    let row = sqlx::query(q.stream_head.get())
        .bind(stream_id)
        .fetch_optional(conn)
        .await
        .map_err(store_error)?;
    row.map(|row| {
        Ok((
            unsigned(&row, 0)?,
            unsigned(&row, 1)?,
            row.try_get(2).map_err(store_error)?,
        ))
    })
    .transpose()
}

/// What one run of the statement did.
pub(super) enum Outcome {
    Written(AppendResult),
    /// The statement ran and inserted nothing: a check failed.
    Refused {
        actual: Option<u64>,
        why: Refusal,
    },
    /// A unique constraint fired: a concurrent append won, or the ids exist.
    Taken {
        version_key: bool,
        source: sqlx::Error,
    },
}

/// Which check refused an append.
pub(super) enum Refusal {
    Version,
    AggregateType(String),
    Room,
    /// The stream's last event has a higher position than this transaction
    /// can give the new ones: its writer got its transaction id later than
    /// this one did. Appending would order the stream backwards globally.
    Order,
    /// Some of the batch's ids are already stored (checked before inserting
    /// in a caller's transaction only, so that the collision cannot abort it).
    Stored,
    /// The stream's last event is a tombstone.
    Deleted,
}

impl Refusal {
    pub(super) fn into_error(self, request: &Request<'_>, actual: Option<u64>) -> StoreError {
        let stream = request.stream_id;
        match self {
            Self::Version => request.conflict(actual),
            Self::Deleted => StoreError::StreamDeleted {
                stream_id: stream.into(),
            },
            Self::AggregateType(owner) => StoreError::invalid(format!(
                "stream `{stream}` belongs to aggregate type `{owner}`, not `{}`",
                request.aggregate_type
            )),
            Self::Room => StoreError::invalid(format!(
                "one transaction can append at most {MAX_EVENTS_PER_TRANSACTION} events"
            )),
            Self::Order => StoreError::invalid(format!(
                "stream `{stream}` was last written by a transaction that started after this \
                 one was assigned its id; appending here would order the new events before \
                 the old ones globally. Retry in a new transaction"
            )),
            // The append saw the ids, the look-up after it did not: rows of
            // the events table were deleted in between.
            Self::Stored => StoreError::Backend(
                format!(
                    "the append to `{stream}` found its event ids already stored, \
                     but they were gone when it looked them up"
                )
                .into(),
            ),
        }
    }
}

/// One event's values, as the single-event statements take them.
type One<'r> = (&'r Uuid, &'r &'r str, &'r i32, &'r &'r str, &'r String);

/// The batch's only event, if it has exactly one.
fn only_event<'r>(r: &'r Request<'_>) -> Option<One<'r>> {
    match (
        &*r.ids,
        &*r.names,
        &*r.schema_versions,
        &*r.payloads,
        &*r.metadata,
    ) {
        ([id], [name], [schema_version], [payload], [metadata]) => {
            Some((id, name, schema_version, payload, metadata))
        }
        _ => None,
    }
}

/// Runs the append once. `fresh`: the statement is its own transaction
/// (autocommit), so no earlier append of it used positions.
///
/// The store's own append tries [`WRITE`] (or [`WRITE_ONE`]) first, and
/// only when it wrote nothing runs [`APPEND`] (or [`APPEND_ONE`]) for the
/// reason; a caller's transaction goes straight to the checked statement,
/// which never aborts it over a stored id.
pub(super) async fn insert(
    q: &Statements,
    conn: &mut PgConnection,
    r: &Request<'_>,
    fresh: bool,
) -> Result<Outcome, StoreError> {
    if fresh && let Some(outcome) = write(q, conn, r).await? {
        return Ok(outcome);
    }
    checked(q, conn, r, fresh).await
}

/// `sql`, one of the append statements (all take the same parameters),
/// with `r` bound: plain parameters for the one event `one` of a single-event
/// form, parallel arrays otherwise.
fn bound<'q>(
    sql: &Sql,
    r: &'q Request<'_>,
    one: Option<One<'q>>,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let query = sqlx::query(sql.get())
        .bind(r.stream_id)
        .bind(r.aggregate_type)
        .bind(r.kind)
        .bind(r.version);
    match one {
        Some((id, name, schema_version, payload, metadata)) => query
            .bind(id)
            .bind(name)
            .bind(schema_version)
            .bind(payload)
            .bind(metadata),
        None => query
            .bind(&r.ids)
            .bind(&r.names)
            .bind(&r.schema_versions)
            .bind(&r.payloads)
            .bind(&r.metadata),
    }
}

/// [`WRITE`] or [`WRITE_ONE`]: the outcome, or `None` when a check failed.
async fn write(
    q: &Statements,
    conn: &mut PgConnection,
    r: &Request<'_>,
) -> Result<Option<Outcome>, StoreError> {
    let one = only_event(r);
    let sql = if one.is_some() {
        &q.write_one
    } else {
        &q.write
    };
    let query = bound(sql, r, one);
    let row = match query.fetch_optional(conn).await {
        Ok(Some(row)) => row,
        Ok(None) => return Ok(None),
        Err(err) => return failed(err, r).map(Some),
    };
    let inserted: i64 = row.try_get(3).map_err(store_error)?;
    if inserted == 0 {
        return Ok(None);
    }
    let count = r.ids.len() as u64;
    if u64::try_from(inserted).ok() != Some(count) {
        return Err(StoreError::Backend(
            format!("the append inserted {inserted} of {count} events").into(),
        ));
    }
    let first_version = unsigned(&row, 2)?;
    Ok(Some(Outcome::Written(AppendResult {
        first_version,
        last_version: first_version + count - 1,
        first_position: unsigned(&row, 0)?,
        last_position: unsigned(&row, 1)?,
        replayed: false,
    })))
}

/// The statement that checks and says which check failed: [`APPEND`] and
/// its forms.
async fn checked(
    q: &Statements,
    conn: &mut PgConnection,
    r: &Request<'_>,
    fresh: bool,
) -> Result<Outcome, StoreError> {
    let one = only_event(r);
    let sql = match (one.is_some(), fresh) {
        (false, false) => &q.append_in,
        (false, true) => &q.append,
        (true, false) => &q.append_one_in,
        (true, true) => &q.append_one,
    };
    let query = bound(sql, r, one);
    let row = match query.fetch_one(conn).await {
        Ok(row) => row,
        Err(err) => return failed(err, r),
    };
    let get = |i: usize| row.try_get::<bool, _>(i).map_err(store_error);
    let actual = row
        .try_get::<Option<i64>, _>(0)
        .map_err(store_error)?
        .map(|v| u64::try_from(v).unwrap_or(0));
    let inserted: i64 = row.try_get(8).map_err(store_error)?;
    if inserted == 0 {
        let why = if !get(9)? {
            Refusal::Stored
        } else if !get(10)? {
            Refusal::Deleted
        } else if !get(2)? {
            Refusal::Version
        } else if !get(3)? {
            let owner: Option<String> = row.try_get(1).map_err(store_error)?;
            Refusal::AggregateType(owner.unwrap_or_default())
        } else if !get(4)? {
            Refusal::Room
        } else {
            Refusal::Order
        };
        return Ok(Outcome::Refused { actual, why });
    }
    let count = r.ids.len() as u64;
    if u64::try_from(inserted).ok() != Some(count) {
        return Err(StoreError::Backend(
            format!("the append inserted {inserted} of {count} events").into(),
        ));
    }
    let current = actual.unwrap_or(0);
    Ok(Outcome::Written(AppendResult {
        first_version: current + 1,
        last_version: current + count,
        first_position: unsigned(&row, 6)?,
        last_position: unsigned(&row, 7)?,
        replayed: false,
    }))
}

/// What a failed append statement means: a race lost or ids already
/// stored (an outcome to act on), a batch the server refuses as JSON, or
/// a failure of the database.
fn failed(err: sqlx::Error, r: &Request<'_>) -> Result<Outcome, StoreError> {
    if let Some(db) = unique_violation(&err) {
        let version_key = db.constraint() == Some("events_stream_version_key");
        return Ok(Outcome::Taken {
            version_key,
            source: err,
        });
    }
    if lost_race(&err) {
        // Two transactions appending to the same streams in opposite
        // orders: PostgreSQL aborts one. Like a version conflict,
        // the cure is to retry in a new transaction.
        return Ok(Outcome::Taken {
            version_key: true,
            source: err,
        });
    }
    if is_bad_value(&err) {
        return Err(StoreError::invalid(format!(
            "the batch for `{}` holds a payload or metadata PostgreSQL rejects as JSON: {err}",
            r.stream_id
        )));
    }
    Err(store_error(err))
}

fn unsigned(row: &PgRow, index: usize) -> Result<u64, StoreError> {
    let value: i64 = row.try_get(index).map_err(store_error)?;
    u64::try_from(value).map_err(|_| {
        StoreError::Backend(format!("negative value {value} in column {index}").into())
    })
}

/// Where one of the batch's ids is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stored {
    /// 1-based index in the batch.
    ord: usize,
    stream_id: Arc<str>,
    version: u64,
    position: u64,
    /// Written by the transaction doing the look-up (not yet committed).
    ours: bool,
}

/// A batch found stored exactly as the append would have stored it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Replay {
    /// What the original append returned, with `replayed` set.
    pub(super) result: AppendResult,
    /// Whether the transaction doing the look-up wrote it.
    pub(super) ours: bool,
}

/// If the batch is already stored, what its original append returned.
pub(super) async fn replayed(
    q: &Statements,
    conn: &mut PgConnection,
    r: &Request<'_>,
) -> Result<Option<Replay>, StoreError> {
    let rows = sqlx::query(q.stored_ids.get())
        .bind(&r.ids)
        .fetch_all(conn)
        .await
        .map_err(store_error)?;
    let stored = rows
        .iter()
        .map(|row| {
            Ok(Stored {
                ord: usize::try_from(row.try_get::<i64, _>(0).map_err(store_error)?).unwrap_or(0),
                stream_id: row.try_get::<&str, _>(1).map_err(store_error)?.into(),
                version: unsigned(row, 2)?,
                position: unsigned(row, 3)?,
                ours: row.try_get(4).map_err(store_error)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    classify_stored(r.stream_id, &r.ids, &stored)
}

/// A replay when every id is stored, in order, at consecutive versions of
/// this stream; `DuplicateEvent` when some are stored otherwise; `None`
/// when none is stored.
fn classify_stored(
    stream_id: &str,
    ids: &[Uuid],
    stored: &[Stored],
) -> Result<Option<Replay>, StoreError> {
    let Some(first) = stored.first() else {
        return Ok(None);
    };
    let duplicate = |s: &Stored| StoreError::DuplicateEvent {
        stream_id: stream_id.into(),
        event_id: ids.get(s.ord.wrapping_sub(1)).copied().unwrap_or_default(),
        stored_stream: s.stream_id.clone(),
        stored_version: s.version,
    };
    let whole = stored.len() == ids.len()
        && stored.iter().enumerate().all(|(i, s)| {
            s.ord == i + 1 && &*s.stream_id == stream_id && s.version == first.version + i as u64
        });
    match stored.last() {
        Some(last) if whole => Ok(Some(Replay {
            result: AppendResult {
                first_version: first.version,
                last_version: last.version,
                first_position: first.position,
                last_position: last.position,
                replayed: true,
            },
            ours: stored.iter().all(|s| s.ours),
        })),
        _ => Err(duplicate(first)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_event_gets_its_own_metadata_text_when_a_batch_mixes_them() {
        let shared = Metadata::new().with_correlation_id(Uuid::from_u128(1));
        let other = Metadata::new().with_causation_id(Uuid::from_u128(2));
        let events: Vec<NewEvent> = [&shared, &shared, &other, &Metadata::new(), &shared]
            .into_iter()
            .map(|m| NewEvent::new("E", 1, "{}", m.clone()))
            .collect();
        let texts = metadata_texts(&events).expect("metadata serializes");
        let expected: Vec<String> = events
            .iter()
            .map(|e| metadata_json(&e.metadata).expect("metadata serializes"))
            .collect();
        assert_eq!(texts, expected);
        assert_ne!(texts[1], texts[2]);
        assert_eq!(texts[3], "{}");
    }

    #[test]
    fn only_the_statements_in_a_callers_transaction_probe_and_look_for_ids() {
        for (sql, batch) in [(APPEND_IN, true), (APPEND_ONE_IN, false)] {
            assert!(sql.contains("max(e.global_position)"));
            assert!(sql.contains("NOT EXISTS (SELECT 1 FROM {schema}.events d"));
            assert_eq!(sql.contains("ANY($5::uuid[])"), batch);
        }
        for sql in [APPEND, APPEND_ONE] {
            assert!(!sql.contains("max(e.global_position)"));
            assert!(sql.contains("true AS ids_free"));
        }
        for sql in [
            APPEND,
            APPEND_IN,
            APPEND_ONE,
            APPEND_ONE_IN,
            WRITE,
            WRITE_ONE,
        ] {
            assert!(!sql.contains("$10"), "nine parameters");
        }
    }

    #[test]
    fn the_happy_path_statements_make_every_check_of_the_checked_ones() {
        for sql in [WRITE, WRITE_ONE] {
            for check in [
                "WHEN 1 THEN h.stream_version IS NULL",
                "ELSE h.stream_version IS NOT DISTINCT FROM $4::int8 END",
                "(h.aggregate_type IS NULL OR h.aggregate_type = $2::text)",
                "(h.global_position IS NULL OR h.global_position <= t.low)",
                "(h.event_name IS NULL OR h.event_name <> 'eventsource.StreamDeleted')",
                "WHERE e.stream_id = $1",
                "tx AS MATERIALIZED",
            ] {
                assert!(sql.contains(check), "{check}");
            }
        }
        assert!(WRITE.contains("cardinality($5::uuid[]) <= {max_events}"));
    }

    fn stored(ord: usize, stream: &str, version: u64) -> Stored {
        Stored {
            ord,
            stream_id: stream.into(),
            version,
            position: version * 10,
            ours: false,
        }
    }

    #[test]
    fn nothing_stored_is_not_a_replay() {
        assert!(
            classify_stored("s", &[Uuid::now_v7()], &[])
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_same_batch_in_the_same_stream_is_a_replay() {
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        let rows = [stored(1, "s", 4), stored(2, "s", 5)];
        let replay = classify_stored("s", &ids, &rows).unwrap().unwrap();
        let r = replay.result;
        assert!(r.replayed);
        assert!(!replay.ours);
        assert_eq!((r.first_version, r.last_version), (4, 5));
        assert_eq!((r.first_position, r.last_position), (40, 50));
    }

    #[test]
    fn a_replay_is_ours_only_when_every_row_is() {
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        let mut rows = [stored(1, "s", 4), stored(2, "s", 5)];
        rows[1].ours = true;
        assert!(!classify_stored("s", &ids, &rows).unwrap().unwrap().ours);
        rows[0].ours = true;
        assert!(classify_stored("s", &ids, &rows).unwrap().unwrap().ours);
    }

    #[test]
    fn anything_else_is_a_duplicate_naming_the_first_stored_id() {
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        let cases = [
            (vec![stored(1, "other", 1), stored(2, "other", 2)], 0),
            (vec![stored(1, "s", 1)], 0),
            (vec![stored(2, "s", 7)], 1),
            (vec![stored(1, "s", 1), stored(2, "s", 3)], 0),
        ];
        for (rows, named) in cases {
            match classify_stored("s", &ids, &rows) {
                Err(StoreError::DuplicateEvent { event_id, .. }) => {
                    assert_eq!(event_id, ids[named])
                }
                other => panic!("{rows:?}: {other:?}"),
            }
        }
    }
}
