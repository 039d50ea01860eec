//! Appending: one statement per batch, version rules, idempotent retries.

use std::sync::Arc;

use eventsource::store::{AppendResult, rules};
use eventsource::{ExpectedVersion, NewEvent, StoreError};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use uuid::Uuid;

use crate::PgEventStore;
use crate::append::group::{self, Answer};
use crate::append::xid_guard;
use crate::error::{is_bad_value, lost_race, store_error, to_i64, unique_violation};
use crate::row::metadata_json;
use crate::sql::MAX_EVENTS_PER_TRANSACTION;
use crate::store::Inner;

/// How often the store's own append is re-run after losing a race: for its
/// version (`Any` only), or for its place in the global order (see
/// `Refusal::Order`). Each loss means another append committed, so the store
/// as a whole always progresses; the bound only stops one unlucky caller
/// from spinning forever.
const ANY_ATTEMPTS: u32 = 64;

impl PgEventStore {
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
        let request = Request::new(stream_id, aggregate_type, expected, &events)?;
        xid_guard::check_once(&self.inner, conn).await?;
        let result = append_on(&self.inner, conn, &request, Owner::Caller).await;
        xid_guard::rearm_after(&self.inner, &result);
        result
    }
}

/// Who owns the transaction the append runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// A pooled connection in autocommit mode: the statement is the transaction.
    Store,
    /// The caller's transaction, aborted by any error.
    Caller,
}

/// The store's own append: shared with concurrent ones when the store
/// groups commits (see `group`), otherwise alone.
pub(crate) async fn append(
    inner: &Arc<Inner>,
    stream_id: &str,
    aggregate_type: &str,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<AppendResult, StoreError> {
    let request = Request::new(stream_id, aggregate_type, expected, events)?;
    let attempted = match group::submit(inner, &request, events).await {
        Some(Answer::Done(result)) => return result,
        Some(Answer::Alone { attempted }) => attempted,
        None => false,
    };
    alone(inner, &request, attempted).await
}

/// The store's own append as a statement of its own: on a kept writer
/// connection when the store has one to spare (see `writers`), otherwise on
/// a pooled connection. `retried`: an earlier attempt may have committed it.
pub(crate) async fn alone(
    inner: &Inner,
    request: &Request<'_>,
    mut retried: bool,
) -> Result<AppendResult, StoreError> {
    let result = match inner.writers.take(&inner.pool).await? {
        Some(mut writer) => {
            let result = match writer.conn() {
                Some(conn) => append_with(inner, conn, request).await,
                None => pooled(inner, request).await,
            };
            match result {
                // A kept connection may have died while idle; the writer is
                // dropped (closed), and the append runs again on the pool.
                // If the first attempt did commit, the second finds its ids
                // and reports a replay.
                Err(StoreError::Connection(_)) => {
                    drop(writer);
                    retried = true;
                    pooled(inner, request).await
                }
                // Answers the store gives on a healthy connection; anything
                // else (a backend failure) leaves the connection's state in
                // doubt, so it is closed.
                result @ (Ok(_)
                | Err(
                    StoreError::Conflict { .. }
                    | StoreError::Invalid(_)
                    | StoreError::DuplicateEvent { .. },
                )) => {
                    writer.keep();
                    result
                }
                failed => failed,
            }
        }
        None => pooled(inner, request).await,
    };
    let result = result?;
    if (retried || !result.replayed) && !request.ids.is_empty() {
        inner.wake.committed(&inner.pool);
    }
    Ok(result)
}

/// The store's own append on a connection from the pool.
async fn pooled(inner: &Inner, request: &Request<'_>) -> Result<AppendResult, StoreError> {
    let mut conn = inner.pool.acquire().await.map_err(store_error)?;
    append_with(inner, &mut conn, request).await
}

/// The store's own append on `conn`, behind the transaction-id guard.
async fn append_with(
    inner: &Inner,
    conn: &mut PgConnection,
    request: &Request<'_>,
) -> Result<AppendResult, StoreError> {
    xid_guard::check_once(inner, conn).await?;
    let result = append_on(inner, conn, request, Owner::Store).await;
    xid_guard::rearm_after(inner, &result);
    result
}

/// A validated append, with the batch as the statement's parallel arrays.
pub(crate) struct Request<'a> {
    pub(crate) stream_id: &'a str,
    pub(crate) aggregate_type: &'a str,
    pub(crate) expected: ExpectedVersion,
    /// `expected` as the statement's kind (0 any, 1 no stream, 2 exact) and
    /// version parameters.
    pub(crate) kind: i32,
    pub(crate) version: i64,
    pub(crate) ids: Vec<Uuid>,
    pub(crate) names: Vec<&'a str>,
    pub(crate) schema_versions: Vec<i32>,
    pub(crate) payloads: Vec<&'a str>,
    pub(crate) metadata: Vec<String>,
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
            metadata: events
                .iter()
                .map(|e| metadata_json(&e.metadata))
                .collect::<Result<_, _>>()?,
        })
    }

    fn conflict(&self, actual: Option<u64>) -> StoreError {
        StoreError::Conflict {
            stream_id: self.stream_id.into(),
            expected: self.expected,
            actual,
        }
    }
}

async fn append_on(
    inner: &Inner,
    conn: &mut PgConnection,
    request: &Request<'_>,
    owner: Owner,
) -> Result<AppendResult, StoreError> {
    if request.ids.is_empty() {
        return empty(inner, conn, request).await;
    }
    let mut attempt = 1;
    loop {
        match insert(inner, conn, request, owner == Owner::Store).await? {
            Outcome::Written(result) => return Ok(result),
            Outcome::Refused { actual, why } => {
                // The transaction is intact: its own earlier appends count.
                if let Some(replay) = replayed(inner, conn, request).await? {
                    return replay.answer(request, owner, false);
                }
                // Our own statement is its whole transaction, so a new
                // attempt gets a new id, above the stream's last writer's.
                let retry = matches!(why, Refusal::Order)
                    && owner == Owner::Store
                    && attempt < ANY_ATTEMPTS;
                if !retry {
                    return Err(why.into_error(request, actual));
                }
                attempt += 1;
            }
            Outcome::Taken {
                version_key,
                source,
            } => {
                // The rows we collided with are committed, so any connection
                // sees them; the caller's transaction is aborted, so use the pool.
                let mut pooled;
                let follow_up: &mut PgConnection = match owner {
                    Owner::Store => conn,
                    Owner::Caller => {
                        pooled = inner.pool.acquire().await.map_err(store_error)?;
                        &mut pooled
                    }
                };
                if let Some(replay) = replayed(inner, follow_up, request).await? {
                    return replay.answer(request, owner, true);
                }
                if !version_key {
                    return Err(StoreError::Backend(Box::new(source)));
                }
                let retry = request.expected == ExpectedVersion::Any
                    && owner == Owner::Store
                    && attempt < ANY_ATTEMPTS;
                if !retry {
                    let actual = stream_head(inner, follow_up, request.stream_id).await?;
                    return Err(request.conflict(actual.map(|(v, _)| v)));
                }
                attempt += 1;
            }
        }
    }
}

/// An empty batch: check the expectation, write nothing.
async fn empty(
    inner: &Inner,
    conn: &mut PgConnection,
    request: &Request<'_>,
) -> Result<AppendResult, StoreError> {
    let head = stream_head(inner, conn, request.stream_id).await?;
    let version = head.map(|(v, _)| v);
    if !request.expected.is_satisfied_by(version) {
        return Err(request.conflict(version));
    }
    let (version, position) = head.unwrap_or((0, 0));
    Ok(AppendResult {
        first_version: version,
        last_version: version,
        first_position: position,
        last_position: position,
        replayed: false,
    })
}

/// The version and position of the last event of `stream_id`.
pub(crate) async fn stream_head(
    inner: &Inner,
    conn: &mut PgConnection,
    stream_id: &str,
) -> Result<Option<(u64, u64)>, StoreError> {
    let row = sqlx::query(inner.sql.stream_head.get())
        .bind(stream_id)
        .fetch_optional(conn)
        .await
        .map_err(store_error)?;
    row.map(|row| Ok((unsigned(&row, 0)?, unsigned(&row, 1)?)))
        .transpose()
}

enum Outcome {
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

enum Refusal {
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
}

impl Refusal {
    fn into_error(self, request: &Request<'_>, actual: Option<u64>) -> StoreError {
        let stream = request.stream_id;
        match self {
            Self::Version => request.conflict(actual),
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

/// Runs the append statement once. `fresh`: the statement is its own
/// transaction (autocommit), so no earlier append of it used positions.
async fn insert(
    inner: &Inner,
    conn: &mut PgConnection,
    r: &Request<'_>,
    fresh: bool,
) -> Result<Outcome, StoreError> {
    let q = &inner.sql;
    let one = match (
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
    };
    let sql = match (one.is_some(), fresh) {
        (false, false) => &q.append,
        (false, true) => &q.append_fresh,
        (true, false) => &q.append_one,
        (true, true) => &q.append_one_fresh,
    };
    let query = sqlx::query(sql.get())
        .bind(r.stream_id)
        .bind(r.aggregate_type)
        .bind(r.kind)
        .bind(r.version);
    let query = match one {
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
    };
    let row = query.fetch_one(conn).await;
    let row = match row {
        Ok(row) => row,
        Err(err) => {
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
            return Err(store_error(err));
        }
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
struct Replay {
    /// What the original append returned, with `replayed` set.
    result: AppendResult,
    /// Whether the transaction doing the look-up wrote it.
    ours: bool,
}

impl Replay {
    /// The answer to the retried append. A store-owned statement has no
    /// other writes to worry about; in a caller's transaction only its own
    /// earlier append is a harmless replay, since anything else means a
    /// committed transaction already did this work (see `append_in`).
    fn answer(
        self,
        request: &Request<'_>,
        owner: Owner,
        aborted: bool,
    ) -> Result<AppendResult, StoreError> {
        if owner == Owner::Caller && !self.ours {
            return Err(StoreError::AlreadyStored {
                stream_id: request.stream_id.into(),
                stored: self.result,
                transaction_aborted: aborted,
            });
        }
        Ok(self.result)
    }
}

/// If the batch is already stored, what its original append returned.
async fn replayed(
    inner: &Inner,
    conn: &mut PgConnection,
    r: &Request<'_>,
) -> Result<Option<Replay>, StoreError> {
    let rows = sqlx::query(inner.sql.stored_ids.get())
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
    judge(r.stream_id, &r.ids, &stored)
}

/// A replay when every id is stored, in order, at consecutive versions of
/// this stream; `DuplicateEvent` when some are stored otherwise; `None`
/// when none is stored.
fn judge(stream_id: &str, ids: &[Uuid], stored: &[Stored]) -> Result<Option<Replay>, StoreError> {
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
        assert!(judge("s", &[Uuid::now_v7()], &[]).unwrap().is_none());
    }

    #[test]
    fn the_same_batch_in_the_same_stream_is_a_replay() {
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        let rows = [stored(1, "s", 4), stored(2, "s", 5)];
        let replay = judge("s", &ids, &rows).unwrap().unwrap();
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
        assert!(!judge("s", &ids, &rows).unwrap().unwrap().ours);
        rows[0].ours = true;
        assert!(judge("s", &ids, &rows).unwrap().unwrap().ours);
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
            match judge("s", &ids, &rows) {
                Err(StoreError::DuplicateEvent { event_id, .. }) => {
                    assert_eq!(event_id, ids[named])
                }
                other => panic!("{rows:?}: {other:?}"),
            }
        }
    }
}
