//! Every SQL statement the store runs, built once per store for its schema.
//!
//! The only text spliced in is the validated, quoted schema name and fixed
//! fragments chosen by code; every value travels as a bind parameter. The
//! strings are shared (`Arc<str>`), so handing one to sqlx costs a reference
//! count, and sqlx caches the prepared statement per connection by its text.

use std::sync::Arc;

use sqlx::AssertSqlSafe;

use crate::schema::Identifier;

/// Positions of one transaction occupy `[xid * SLOTS, (xid + 1) * SLOTS)`.
pub(crate) const SLOTS: i64 = 65_536;

/// The most events one transaction can append.
pub(crate) const MAX_EVENTS_PER_TRANSACTION: usize = 65_535;

/// The first position that a transaction still able to commit could use:
/// the oldest running transaction id of this statement's snapshot, scaled.
const HORIZON: &str = "pg_snapshot_xmin(pg_current_snapshot())::text::bigint * 65536";

/// The columns every event read selects, in the order `row::decode` expects.
const EVENT_COLUMNS: &str = "global_position, stream_id, aggregate_type, stream_version, \
     event_id, event_name, schema_version, payload::text, metadata::text, recorded_at";

/// A shared SQL string.
#[derive(Clone, Debug)]
pub(crate) struct Sql(Arc<str>);

impl Sql {
    fn new(text: String) -> Self {
        Self(text.into())
    }

    /// The text as sqlx wants it. Safe: built only from fixed fragments and a
    /// validated identifier (see the module docs).
    pub(crate) fn get(&self) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(self.0.clone())
    }
}

/// Which optional clauses a global read carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FilterShape {
    pub(crate) names: bool,
    pub(crate) types: bool,
    pub(crate) since: bool,
}

impl FilterShape {
    fn index(self) -> usize {
        usize::from(self.names) | usize::from(self.types) << 1 | usize::from(self.since) << 2
    }

    fn all() -> impl Iterator<Item = Self> {
        (0..8).map(|i| Self {
            names: i & 1 != 0,
            types: i & 2 != 0,
            since: i & 4 != 0,
        })
    }
}

/// The statements of one store.
#[derive(Debug)]
pub(crate) struct Queries {
    /// The append inside a caller's transaction.
    pub(crate) append: Sql,
    /// The append as its own transaction (autocommit).
    pub(crate) append_fresh: Sql,
    /// `append` for a single event.
    pub(crate) append_one: Sql,
    /// `append_fresh` for a single event.
    pub(crate) append_one_fresh: Sql,
    /// Appends to several streams as one transaction (see `group`).
    pub(crate) append_group: Sql,
    pub(crate) stored_ids: Sql,
    pub(crate) stream_head: Sql,
    pub(crate) read_stream: Sql,
    /// Indexed by [`FilterShape::index`].
    read_all: Vec<Sql>,
    /// Indexed by [`FilterShape::index`].
    count_all: Vec<Sql>,
    pub(crate) horizon: Sql,
    /// The next transaction id and the highest position (see `xid_guard`).
    pub(crate) xid_guard: Sql,
    pub(crate) head_position: Sql,
    pub(crate) save_snapshot: Sql,
    pub(crate) load_snapshot: Sql,
    pub(crate) delete_snapshot: Sql,
    pub(crate) load_checkpoint: Sql,
    pub(crate) save_checkpoint: Sql,
    pub(crate) reset_checkpoint: Sql,
}

impl Queries {
    pub(crate) fn new(schema: &Identifier) -> Self {
        let s = schema.quoted();
        Self {
            append: Sql::new(append(&s, false, false)),
            append_fresh: Sql::new(append(&s, true, false)),
            append_one: Sql::new(append(&s, false, true)),
            append_one_fresh: Sql::new(append(&s, true, true)),
            append_group: Sql::new(append_group(&s)),
            stored_ids: Sql::new(format!(
                "SELECT b.ord, e.stream_id, e.stream_version, e.global_position, \
                     COALESCE(e.transaction_id = pg_current_xact_id_if_assigned(), false) \
                 FROM unnest($1::uuid[]) WITH ORDINALITY AS b(event_id, ord) \
                 JOIN {s}.events e ON e.event_id = b.event_id \
                 ORDER BY b.ord"
            )),
            stream_head: Sql::new(format!(
                "SELECT stream_version, global_position FROM {s}.events \
                 WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1"
            )),
            read_stream: Sql::new(format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events \
                 WHERE stream_id = $1 AND stream_version >= $2 \
                 ORDER BY stream_version LIMIT $3"
            )),
            read_all: FilterShape::all()
                .map(|shape| read_all(&s, shape))
                .collect(),
            count_all: FilterShape::all()
                .map(|shape| count_all(&s, shape))
                .collect(),
            horizon: Sql::new(format!(
                "SELECT {HORIZON}, (SELECT max(global_position) FROM {s}.events)"
            )),
            // xmax, not a new id: checking must not consume transaction ids.
            xid_guard: Sql::new(format!(
                "SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, \
                     (SELECT max(global_position) FROM {s}.events)"
            )),
            head_position: Sql::new(format!(
                "SELECT COALESCE(max(global_position), 0) FROM {s}.events"
            )),
            save_snapshot: Sql::new(format!(
                "INSERT INTO {s}.snapshots AS kept \
                     (stream_id, aggregate_type, version, revision, state, taken_at) \
                 VALUES ($1, $2, $3, $4, $5::jsonb, $6) \
                 ON CONFLICT (stream_id) DO UPDATE SET \
                     aggregate_type = EXCLUDED.aggregate_type, version = EXCLUDED.version, \
                     revision = EXCLUDED.revision, state = EXCLUDED.state, \
                     taken_at = EXCLUDED.taken_at \
                 WHERE kept.version <= EXCLUDED.version"
            )),
            load_snapshot: Sql::new(format!(
                "SELECT stream_id, aggregate_type, version, revision, state::text, taken_at \
                 FROM {s}.snapshots WHERE stream_id = $1"
            )),
            delete_snapshot: Sql::new(format!("DELETE FROM {s}.snapshots WHERE stream_id = $1")),
            load_checkpoint: Sql::new(format!(
                "SELECT position FROM {s}.checkpoints WHERE name = $1"
            )),
            save_checkpoint: Sql::new(format!(
                "INSERT INTO {s}.checkpoints AS kept (name, position) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET \
                     position = GREATEST(kept.position, EXCLUDED.position), updated_at = now()"
            )),
            reset_checkpoint: Sql::new(format!("DELETE FROM {s}.checkpoints WHERE name = $1")),
        }
    }

    pub(crate) fn read_all(&self, shape: FilterShape) -> &Sql {
        &self.read_all[shape.index()]
    }

    pub(crate) fn count_all(&self, shape: FilterShape) -> &Sql {
        &self.count_all[shape.index()]
    }
}

/// The append: one statement, one round trip, whatever the batch size.
///
/// Parameters: `$1` stream id, `$2` aggregate type, `$3` expectation kind
/// (0 any, 1 no stream, 2 exact), `$4` expected version, then the batch as
/// parallel arrays: `$5` ids, `$6` names, `$7` schema versions, `$8`
/// payloads, `$9` metadata (JSON text). `single` builds the variant for a
/// batch of one, which takes `$5` to `$9` as plain values.
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
/// `order_ok` refuses that case in any event (see `append.rs`, which
/// retries it in a new transaction); materializing makes it rare.
///
/// Inside a caller's transaction, an earlier append of the same transaction
/// may have used positions of its range: `base`, the last one used, is found
/// with one index probe. `fresh` builds the variant for a statement that is
/// its own transaction (the store's own appends), where nothing can have
/// been used: it leaves the probe out, which is more than saving an index
/// probe, since the planner inlines `n` into three expressions and each
/// copy is a subplan that the executor sets up on every execution.
///
/// Only in a caller's transaction does `ids_free` look for the batch's ids
/// before inserting: a unique violation there would abort the caller's
/// whole transaction, whereas the store's own statement simply fails alone
/// and is answered from the stored rows afterwards. Ids of a transaction
/// still in flight are invisible to the check; the insert then waits for
/// it, and collides only if it commits.
fn append(s: &str, fresh: bool, single: bool) -> String {
    // The batch travels as parallel arrays, unnested with their ordinals;
    // a single event (the common command) as plain parameters, which spares
    // the server the function scan and the aggregate over what was inserted.
    let (count, id_match, rows, values, inserted) = if single {
        (
            "1",
            "= $5::uuid",
            String::new(),
            "c.base + 1, c.xid8, $1, $2, COALESCE(c.version, 0) + 1, \
             $5::uuid, $6::text, $7::int4, $8::text::jsonb, $9::text::jsonb"
                .to_owned(),
            "i.global_position, i.global_position, \
             (i.global_position IS NOT NULL)::int4::int8, c.ids_free \
             FROM checked c LEFT JOIN ins i ON true",
        )
    } else {
        (
            "cardinality($5::uuid[])",
            "= ANY($5::uuid[])",
            ", unnest($5::uuid[], $6::text[], $7::int4[], $8::text[], $9::text[]) \
                 WITH ORDINALITY AS u(event_id, event_name, schema_version, payload, metadata, ord)"
                .to_owned(),
            "c.base + u.ord, c.xid8, $1, $2, COALESCE(c.version, 0) + u.ord, \
             u.event_id, u.event_name, u.schema_version, u.payload::jsonb, u.metadata::jsonb"
                .to_owned(),
            "i.first_position, i.last_position, i.inserted, c.ids_free \
             FROM checked c, \
                 (SELECT min(global_position) AS first_position, \
                      max(global_position) AS last_position, count(*) AS inserted FROM ins) i",
        )
    };
    let (base, ids_free) = if fresh {
        ("t.low".to_owned(), "true".to_owned())
    } else {
        (
            format!(
                "COALESCE( \
                     (SELECT max(e.global_position) FROM {s}.events e \
                       WHERE e.global_position >= t.low AND e.global_position < t.low + {SLOTS}), \
                     t.low)"
            ),
            format!("NOT EXISTS (SELECT 1 FROM {s}.events d WHERE d.event_id {id_match})"),
        )
    };
    format!(
        "WITH tx AS MATERIALIZED ( \
             SELECT pg_current_xact_id() AS xid8, \
                 pg_current_xact_id()::text::bigint * {SLOTS} AS low \
         ), checked AS MATERIALIZED ( \
             SELECT t.xid8, t.low, n.base, h.stream_version AS version, h.aggregate_type, \
                 CASE $3::int4 WHEN 0 THEN true \
                     WHEN 1 THEN h.stream_version IS NULL \
                     ELSE h.stream_version IS NOT DISTINCT FROM $4::int8 END AS version_ok, \
                 (h.aggregate_type IS NULL OR h.aggregate_type = $2::text) AS type_ok, \
                 (n.base - t.low + {count} <= {MAX_EVENTS_PER_TRANSACTION}) AS room_ok, \
                 (h.global_position IS NULL OR h.global_position <= n.base) AS order_ok, \
                 {ids_free} AS ids_free \
             FROM tx t \
             CROSS JOIN LATERAL (SELECT {base} AS base) n \
             LEFT JOIN LATERAL ( \
                 SELECT e.stream_version, e.aggregate_type, e.global_position \
                 FROM {s}.events e WHERE e.stream_id = $1 \
                 ORDER BY e.stream_version DESC LIMIT 1 \
             ) h ON true \
         ), ins AS ( \
             INSERT INTO {s}.events (global_position, transaction_id, stream_id, aggregate_type, \
                 stream_version, event_id, event_name, schema_version, payload, metadata) \
             SELECT {values} \
             FROM checked c{rows} \
             WHERE c.version_ok AND c.type_ok AND c.room_ok AND c.order_ok AND c.ids_free \
             RETURNING global_position \
         ) \
         SELECT c.version, c.aggregate_type, c.version_ok, c.type_ok, c.room_ok, c.order_ok, \
             {inserted}"
    )
}

/// Appends of several callers to distinct streams, as one statement that is
/// its own transaction (see `group`): the happy path of `append` for each.
///
/// Parameters, one element per append: `$1` stream ids, `$2` aggregate
/// types, `$3` expectation kinds and `$4` expected versions (as in
/// `append`); then one element per event, of all appends in order: `$5` the
/// (1-based) append it belongs to, `$6` its (1-based) index in that append,
/// and `$7` to `$11` the ids, names, schema versions, payloads and metadata.
///
/// Returns one row per append, in order: the stream's version before, and
/// whether its checks passed, with the transaction's first position and the
/// number of rows inserted in all. An event's position is the transaction's
/// base plus its index among all events of the statement, so an append
/// whose checks fail (it inserts nothing, and is retried alone) leaves
/// unused positions behind; gaps inside a transaction's range are harmless,
/// since readers order by position and wait on transactions, not on gaps.
/// The checks are `append`'s, fresh: no earlier append of the transaction
/// used any position, so `order_ok` compares with the base itself. Ids are
/// not looked up first: an id already stored fails the whole statement with
/// a unique violation, and each append is then run alone, where stored ids
/// are answered as replays.
fn append_group(s: &str) -> String {
    format!(
        "WITH tx AS MATERIALIZED ( \
             SELECT pg_current_xact_id() AS xid8, \
                 pg_current_xact_id()::text::bigint * {SLOTS} AS low \
         ), checked AS MATERIALIZED ( \
             SELECT a.ord, a.stream_id, a.aggregate_type, h.stream_version AS version, \
                 CASE a.kind WHEN 0 THEN true \
                     WHEN 1 THEN h.stream_version IS NULL \
                     ELSE h.stream_version IS NOT DISTINCT FROM a.expected END \
                 AND (h.aggregate_type IS NULL OR h.aggregate_type = a.aggregate_type) \
                 AND (h.global_position IS NULL OR h.global_position <= t.low) AS ok \
             FROM tx t \
             CROSS JOIN unnest($1::text[], $2::text[], $3::int4[], $4::int8[]) \
                 WITH ORDINALITY AS a(stream_id, aggregate_type, kind, expected, ord) \
             LEFT JOIN LATERAL ( \
                 SELECT e.stream_version, e.aggregate_type, e.global_position \
                 FROM {s}.events e WHERE e.stream_id = a.stream_id \
                 ORDER BY e.stream_version DESC LIMIT 1 \
             ) h ON true \
         ), ins AS ( \
             INSERT INTO {s}.events (global_position, transaction_id, stream_id, aggregate_type, \
                 stream_version, event_id, event_name, schema_version, payload, metadata) \
             SELECT t.low + u.ord, t.xid8, c.stream_id, c.aggregate_type, \
                 COALESCE(c.version, 0) + u.k, u.event_id, u.event_name, u.schema_version, \
                 u.payload::jsonb, u.metadata::jsonb \
             FROM tx t \
             CROSS JOIN unnest($5::int4[], $6::int8[], $7::uuid[], $8::text[], $9::int4[], \
                     $10::text[], $11::text[]) \
                 WITH ORDINALITY AS u(batch, k, event_id, event_name, schema_version, payload, \
                     metadata, ord) \
             JOIN checked c ON c.ord = u.batch AND c.ok \
             RETURNING 1 \
         ) \
         SELECT c.version, c.ok, t.low, (SELECT count(*) FROM ins) \
         FROM checked c CROSS JOIN tx t ORDER BY c.ord"
    )
}

/// A page of the global log: rows after `$1` and before `$2` (exclusive),
/// at most `$3`, with the filter's clauses numbered from `$4`.
fn read_all(s: &str, shape: FilterShape) -> Sql {
    let mut sql = format!(
        "SELECT {EVENT_COLUMNS} FROM {s}.events \
         WHERE global_position > $1 AND global_position < $2"
    );
    filter_clauses(&mut sql, shape, 4);
    sql.push_str(" ORDER BY global_position LIMIT $3");
    Sql::new(sql)
}

/// Counts what `read_all` would deliver, in one snapshot: returns the
/// horizon, the highest visible position, and the rows after `$1`, below
/// `$2` (exclusive) and below the horizon that pass the filter (clauses
/// numbered from `$3`). The count is final when the horizon lies above
/// `$2 - 1` or above the highest position (see the crate docs).
fn count_all(s: &str, shape: FilterShape) -> Sql {
    let mut sql = format!(
        "WITH h AS MATERIALIZED (SELECT {HORIZON} AS horizon) \
         SELECT h.horizon, (SELECT max(global_position) FROM {s}.events), \
             (SELECT count(*) FROM {s}.events \
              WHERE global_position > $1 AND global_position < LEAST($2::int8, h.horizon)"
    );
    filter_clauses(&mut sql, shape, 3);
    sql.push_str(") FROM h");
    Sql::new(sql)
}

/// Appends the filter's conditions, numbering parameters from `first`.
fn filter_clauses(sql: &mut String, shape: FilterShape, first: usize) {
    let mut next = first;
    let mut clause = |before: &str, after: &str| {
        sql.push_str(&format!(" AND {before}${next}{after}"));
        next += 1;
    };
    if shape.names {
        clause("event_name = ANY(", ")");
    }
    if shape.types {
        clause("aggregate_type = ANY(", ")");
    }
    if shape.since {
        clause("recorded_at >= ", "");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_clauses_are_numbered_and_closed() {
        let schema = Identifier::parse("schema name", "s").unwrap();
        let q = Queries::new(&schema);
        let plain = &q.read_all(FilterShape::default()).0;
        assert!(plain.ends_with("global_position < $2 ORDER BY global_position LIMIT $3"));
        let all = &q
            .read_all(FilterShape {
                names: true,
                types: true,
                since: true,
            })
            .0;
        assert!(
            all.contains(
                "AND event_name = ANY($4) AND aggregate_type = ANY($5) AND recorded_at >= $6 ORDER BY"
            ),
            "{all}"
        );
        let since = &q
            .read_all(FilterShape {
                since: true,
                ..FilterShape::default()
            })
            .0;
        assert!(since.contains("AND recorded_at >= $4 ORDER BY"), "{since}");
        let count = &q
            .count_all(FilterShape {
                names: true,
                types: false,
                since: true,
            })
            .0;
        assert!(
            count.contains("h.horizon) AND event_name = ANY($3) AND recorded_at >= $4) FROM h"),
            "{count}"
        );
    }

    #[test]
    fn the_schema_is_quoted_everywhere() {
        let schema = Identifier::parse("schema name", "shop").unwrap();
        let q = Queries::new(&schema);
        assert!(q.append.0.contains("INSERT INTO \"shop\".events"));
        assert!(!q.append.0.contains(" shop.events"));
        assert!(q.append.0.contains("max(e.global_position)"));
        assert!(q.append_fresh.0.contains("INSERT INTO \"shop\".events"));
        assert!(!q.append_fresh.0.contains("$10"));
        assert!(!q.append_fresh.0.contains("max(e.global_position)"));
        assert!(q.append.0.contains("d.event_id = ANY($5::uuid[])"));
        assert!(!q.append_fresh.0.contains("d.event_id"));
    }
}
