//! Group commit: concurrent appends of one store sharing a statement.
//!
//! With [`PgStoreOptions::with_group_commit`](crate::PgStoreOptions::with_group_commit)
//! an append queues, and up to that many tasks of the store ("runners")
//! take what has queued and append it as one transaction. The shared
//! statement only ever takes the happy path: an append whose checks fail,
//! or all of them when the statement fails, are handed back to their
//! callers to run alone, where every rule of the store's own append
//! applies. So a shared statement can only commit what the append on its
//! own would have committed.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use eventsource::store::AppendResult;
use eventsource::{ExpectedVersion, NewEvent, StoreError};
use sqlx::{PgConnection, Row};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::single::Appender;
use super::statement::Request;
use crate::error::store_error;
use crate::positions::SLOTS;
use crate::schema::Identifier;
use crate::sql::Sql;

/// Appends with more events than this never queue: they already spread a
/// commit over many events.
const GROUPABLE_EVENTS: usize = 64;
/// At most this many appends share a statement.
const MAX_APPENDS: usize = 256;
/// At most this many events share a statement (far below a transaction's
/// 65,535 positions).
const MAX_EVENTS: usize = 2_048;

/// Appends of several callers to distinct streams, as one statement that
/// is its own transaction: the happy path of the single append's statement
/// for each, one row of the arrays per event.
///
/// Parameters, one element per event, of all appends in order: `$1` the
/// stream id, `$2` aggregate type, `$3` expectation kind and `$4` expected
/// version of its append (as in the single append), `$5` its (1-based)
/// index in that append, and `$6` to `$10` the ids, names, schema
/// versions, payloads and metadata.
///
/// Returns one row: the position and the stream version of each row
/// inserted, in no particular order. An event's position is the
/// transaction's base plus its index among all events of the statement, so
/// that position says which event it is; an append whose checks fail
/// inserts nothing (the rows of one append see the same stream head, so
/// they pass or fail together), leaves unused positions behind, and is
/// retried on its own. Gaps inside a transaction's range are harmless,
/// since readers order by position and wait on transactions, not on gaps.
/// The checks are the single append's, for a statement that is its own
/// transaction: no earlier append of the transaction used any position, so
/// the order check compares with the base itself. Each event probes its
/// stream's head: one probe per append for the single events that groups
/// are made of, a few more for the rare larger batch, and no join. Ids are
/// not looked up first: an id already stored fails the whole statement with
/// a unique violation, and each append is then run on its own, where stored
/// ids are answered as replays.
const APPEND_GROUP: &str = "\
WITH tx AS MATERIALIZED (
    SELECT pg_current_xact_id() AS xid8,
        pg_current_xact_id()::text::bigint * {slots} AS low
), ins AS (
    INSERT INTO {schema}.events (global_position, transaction_id, stream_id, aggregate_type,
        stream_version, event_id, event_name, schema_version, payload, metadata)
    SELECT t.low + u.ord, t.xid8, u.stream_id, u.aggregate_type,
        COALESCE(h.stream_version, 0) + u.k, u.event_id, u.event_name, u.schema_version,
        u.payload::json, u.metadata::json
    FROM tx t
    CROSS JOIN unnest($1::text[], $2::text[], $3::int4[], $4::int8[], $5::int8[],
            $6::uuid[], $7::text[], $8::int4[], $9::text[], $10::text[])
        WITH ORDINALITY AS u(stream_id, aggregate_type, kind, expected, k, event_id,
            event_name, schema_version, payload, metadata, ord)
    LEFT JOIN LATERAL (
        SELECT e.stream_version, e.aggregate_type, e.global_position, e.event_name
        FROM {schema}.events e WHERE e.stream_id = u.stream_id
        ORDER BY e.stream_version DESC LIMIT 1
    ) h ON true
    WHERE CASE u.kind WHEN 0 THEN true
            WHEN 1 THEN h.stream_version IS NULL
            ELSE h.stream_version IS NOT DISTINCT FROM u.expected END
        AND (h.aggregate_type IS NULL OR h.aggregate_type = u.aggregate_type)
        AND (h.global_position IS NULL OR h.global_position <= t.low)
        AND (h.event_name IS NULL OR h.event_name <> 'eventsource.StreamDeleted')
    RETURNING global_position, stream_version
)
SELECT array_agg(global_position), array_agg(stream_version) FROM ins";

/// What a queued append is told.
#[derive(Debug)]
pub(crate) enum Answer {
    /// It ran, alone or shared; the store's subscribers were woken.
    Done(Result<AppendResult, StoreError>),
    /// It must run as a statement of its own. `attempted`: a shared
    /// statement holding it failed, and may have committed (a lost
    /// connection), so a replay found then is news to subscribers.
    RunSeparately { attempted: bool },
}

/// The queue and its runners.
#[derive(Debug)]
pub(crate) struct GroupCommit {
    runners: usize,
    state: Mutex<State>,
    statement: Sql,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Pending>,
    running: usize,
    /// Streams in a running statement: another append to one waits for it,
    /// so one process never races itself for a version.
    busy: HashSet<Arc<str>>,
}

/// A queued append, owning what the statement binds.
#[derive(Debug)]
struct Pending {
    stream_id: Arc<str>,
    aggregate_type: Arc<str>,
    expected: ExpectedVersion,
    kind: i32,
    version: i64,
    ids: Vec<Uuid>,
    names: Vec<Arc<str>>,
    schema_versions: Vec<i32>,
    payloads: Vec<Arc<str>>,
    metadata: Vec<String>,
    reply: oneshot::Sender<Answer>,
}

impl Pending {
    fn new(r: &Request<'_>, events: &[NewEvent], reply: oneshot::Sender<Answer>) -> Self {
        Self {
            stream_id: r.stream_id.into(),
            aggregate_type: r.aggregate_type.into(),
            expected: r.expected,
            kind: r.kind,
            version: r.version,
            ids: r.ids.clone(),
            names: events.iter().map(|e| e.event_name.clone()).collect(),
            schema_versions: r.schema_versions.clone(),
            payloads: events.iter().map(|e| e.payload.clone()).collect(),
            metadata: r.metadata.clone(),
            reply,
        }
    }

    /// The append as the single statement takes it, to run on its own.
    fn request(&self) -> Request<'_> {
        Request {
            stream_id: &self.stream_id,
            aggregate_type: &self.aggregate_type,
            expected: self.expected,
            kind: self.kind,
            version: self.version,
            ids: self.ids.clone(),
            names: self.names.iter().map(|n| &**n).collect(),
            schema_versions: self.schema_versions.clone(),
            payloads: self.payloads.iter().map(|p| &**p).collect(),
            metadata: self.metadata.clone(),
        }
    }

    fn answer(self, answer: Answer) {
        // A caller that stopped waiting does not want the answer.
        let _ = self.reply.send(answer);
    }
}

impl GroupCommit {
    pub(crate) fn new(runners: u32, schema: &Identifier) -> Self {
        Self {
            runners: usize::try_from(runners).unwrap_or(usize::MAX),
            state: Mutex::default(),
            statement: Sql::new(APPEND_GROUP, schema),
        }
    }

    /// The shared statement, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statement(&self) -> &Sql {
        &self.statement
    }

    // Nothing is left half-changed under the lock, so a poisoned one is usable.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Queues `request` for a shared statement and waits for its answer;
/// `None` when it does not queue (group commit is off, the batch is empty
/// or large, or there is no Tokio runtime to run statements on).
pub(super) async fn submit(
    appender: &Arc<Appender>,
    group: &Arc<GroupCommit>,
    request: &Request<'_>,
    events: &[NewEvent],
) -> Option<Answer> {
    if group.runners == 0 || request.ids.is_empty() || request.ids.len() > GROUPABLE_EVENTS {
        return None;
    }
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let (reply, answer) = oneshot::channel();
    let start = {
        let mut state = group.state();
        state.queue.push_back(Pending::new(request, events, reply));
        let start = state.running < group.runners;
        if start {
            state.running += 1;
        }
        start
    };
    if start {
        // Built before spawning, so that a task dropped before it ever
        // runs (the runtime shutting down) still gives its slot back.
        runtime.spawn(Runner::new(appender.clone(), group.clone()).run());
    }
    // A runner answers every append it takes, unless it was dropped (a
    // panic, the runtime shutting down): the append then runs alone, which
    // is safe since appends are idempotent by id.
    Some(
        answer
            .await
            .unwrap_or(Answer::RunSeparately { attempted: true }),
    )
}

/// A runner, holding its slot and the streams of its running group.
struct Runner {
    appender: Arc<Appender>,
    group: Arc<GroupCommit>,
    busy: Vec<Arc<str>>,
    /// Whether it gave its slot back (it found the queue empty).
    done: bool,
}

impl Runner {
    fn new(appender: Arc<Appender>, group: Arc<GroupCommit>) -> Self {
        Self {
            appender,
            group,
            busy: Vec::new(),
            done: false,
        }
    }

    /// Takes groups until the queue is empty.
    async fn run(mut self) {
        while let Some(group) = self.next() {
            execute(&self.appender, &self.group, group).await;
            // The callers just answered are ready to queue their next
            // appends; letting them run first makes the next group larger,
            // for the price of one trip through the scheduler.
            tokio::task::yield_now().await;
        }
    }

    /// Releases the last group's streams and takes the next group. Finding
    /// none gives the slot back under the same lock, so an append queued
    /// after the check starts a runner of its own.
    fn next(&mut self) -> Option<Vec<Pending>> {
        let mut state = self.group.state();
        for stream in self.busy.drain(..) {
            state.busy.remove(&stream);
        }
        let group = take(&mut state);
        if group.is_empty() {
            state.running -= 1;
            self.done = true;
            return None;
        }
        self.busy.extend(group.iter().map(|p| p.stream_id.clone()));
        Some(group)
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // Dropped mid-way (a panic, the runtime shutting down). Starting
        // another runner from here could go on forever on a runtime that
        // drops every new task, so the queued appends are sent to run alone
        // (dropping their replies tells them), and the next append that
        // queues starts a runner.
        let mut state = self.group.state();
        for stream in self.busy.drain(..) {
            state.busy.remove(&stream);
        }
        state.running -= 1;
        state.queue.clear();
    }
}

/// The next group, in queue order: at most one append per stream, none for
/// a stream in a running statement, within the size limits. Appends whose
/// callers stopped waiting are dropped.
fn take(state: &mut State) -> Vec<Pending> {
    let mut group = Vec::new();
    let mut events = 0;
    let mut skipped = VecDeque::new();
    while let Some(pending) = state.queue.pop_front() {
        if pending.reply.is_closed() {
            continue;
        }
        if group.len() == MAX_APPENDS || events + pending.ids.len() > MAX_EVENTS {
            state.queue.push_front(pending);
            break;
        }
        if !state.busy.insert(pending.stream_id.clone()) {
            skipped.push_back(pending);
            continue;
        }
        events += pending.ids.len();
        group.push(pending);
    }
    skipped.append(&mut state.queue);
    state.queue = skipped;
    group
}

/// Runs one group and answers its appends.
async fn execute(appender: &Appender, commit: &GroupCommit, mut group: Vec<Pending>) {
    if group.len() == 1 {
        if let Some(pending) = group.pop() {
            let result = appender.run(&pending.request(), false).await;
            pending.answer(Answer::Done(result));
        }
        return;
    }
    // Always in the same order, so that two statements (of two processes)
    // locking the same streams' index entries cannot deadlock.
    group.sort_unstable_by(|a, b| a.stream_id.cmp(&b.stream_id));
    match shared(appender, commit, &group).await {
        Ok(results) => {
            let mut written = false;
            for (pending, result) in group.into_iter().zip(results) {
                pending.answer(match result {
                    Some(result) => {
                        written = true;
                        Answer::Done(Ok(result))
                    }
                    None => Answer::RunSeparately { attempted: false },
                });
            }
            if written {
                appender.committed();
            }
        }
        Err(error) => {
            tracing::debug!(
                appends = group.len(),
                %error,
                "a shared append statement failed; its appends run alone"
            );
            for pending in group {
                pending.answer(Answer::RunSeparately { attempted: true });
            }
        }
    }
}

/// The shared statement for `group`, on a kept writer connection or a
/// pooled one: per append, its result, or `None` when its checks failed.
async fn shared(
    appender: &Appender,
    commit: &GroupCommit,
    group: &[Pending],
) -> Result<Vec<Option<AppendResult>>, StoreError> {
    if let Some(mut writer) = appender.writers().take(appender.pool()).await?
        && let Some(conn) = writer.conn()
    {
        let result = statement(appender, commit, conn, group).await;
        // The connection is healthy after any answer but a lost connection.
        if !matches!(result, Err(StoreError::Connection(_))) {
            writer.keep();
        }
        return result;
    }
    let mut conn = appender.pool().acquire().await.map_err(store_error)?;
    statement(appender, commit, &mut conn, group).await
}

async fn statement(
    appender: &Appender,
    commit: &GroupCommit,
    conn: &mut PgConnection,
    group: &[Pending],
) -> Result<Vec<Option<AppendResult>>, StoreError> {
    appender.xid().check_once(conn).await?;
    let result = query(&commit.statement, conn, group).await;
    appender.xid().rearm_after(&result);
    result
}

async fn query(
    sql: &Sql,
    conn: &mut PgConnection,
    group: &[Pending],
) -> Result<Vec<Option<AppendResult>>, StoreError> {
    let events: usize = group.iter().map(|p| p.ids.len()).sum();
    // One element per event: its append's fields, repeated for each event.
    let mut streams = Vec::with_capacity(events);
    let mut types = Vec::with_capacity(events);
    let mut kinds = Vec::with_capacity(events);
    let mut expected = Vec::with_capacity(events);
    let mut index = Vec::with_capacity(events);
    let mut owner = Vec::with_capacity(events);
    for (append, pending) in group.iter().enumerate() {
        for k in 1..=pending.ids.len() {
            streams.push(&*pending.stream_id);
            types.push(&*pending.aggregate_type);
            kinds.push(pending.kind);
            expected.push(pending.version);
            index.push(k as i64);
            owner.push(append);
        }
    }
    let flat = |f: fn(&Pending) -> &[Arc<str>]| -> Vec<&str> {
        group
            .iter()
            .flat_map(|p| f(p).iter().map(|s| &**s))
            .collect()
    };
    let row = sqlx::query(sql.get())
        .bind(streams)
        .bind(types)
        .bind(kinds)
        .bind(expected)
        .bind(index)
        .bind(
            group
                .iter()
                .flat_map(|p| p.ids.iter().copied())
                .collect::<Vec<_>>(),
        )
        .bind(flat(|p| &p.names))
        .bind(
            group
                .iter()
                .flat_map(|p| p.schema_versions.iter().copied())
                .collect::<Vec<_>>(),
        )
        .bind(flat(|p| &p.payloads))
        .bind(
            group
                .iter()
                .flat_map(|p| p.metadata.iter().map(String::as_str))
                .collect::<Vec<_>>(),
        )
        .fetch_one(conn)
        .await
        // Whatever the failure (a unique violation, a payload the server
        // rejects, a lost connection), each append alone gets its own answer.
        .map_err(store_error)?;
    let positions: Option<Vec<i64>> = row.try_get(0).map_err(store_error)?;
    let versions: Option<Vec<i64>> = row.try_get(1).map_err(store_error)?;
    answers(
        group,
        &owner,
        &positions.unwrap_or_default(),
        &versions.unwrap_or_default(),
    )
}

/// Each append's result, from the positions and versions of the rows the
/// shared statement inserted (`owner`: the append of each event, by its
/// index in the statement); `None` for an append it left out. Anything
/// else than whole appends is an error, which sends every append of the
/// group to run alone (and find its stored ids, if any).
fn answers(
    group: &[Pending],
    owner: &[usize],
    positions: &[i64],
    versions: &[i64],
) -> Result<Vec<Option<AppendResult>>, StoreError> {
    let odd = |what: String| StoreError::Backend(format!("a shared append {what}").into());
    if positions.len() != versions.len() {
        return Err(odd(format!(
            "answered {} positions and {} versions",
            positions.len(),
            versions.len()
        )));
    }
    // Per append: rows inserted, its first position and first version.
    let mut written = vec![(0_u64, u64::MAX, u64::MAX); group.len()];
    for (&position, &version) in positions.iter().zip(versions) {
        let (Ok(position), Ok(version)) = (u64::try_from(position), u64::try_from(version)) else {
            return Err(odd(format!(
                "answered position {position}, version {version}"
            )));
        };
        // The event's 1-based index in the statement.
        let ord = position % SLOTS;
        let Some(&append) = usize::try_from(ord)
            .ok()
            .and_then(|ord| ord.checked_sub(1))
            .and_then(|i| owner.get(i))
        else {
            return Err(odd(format!(
                "answered position {position}, of no event of it"
            )));
        };
        if let Some(entry) = written.get_mut(append) {
            entry.0 += 1;
            entry.1 = entry.1.min(position);
            entry.2 = entry.2.min(version);
        }
    }
    group
        .iter()
        .zip(written)
        .map(|(pending, (rows, first_position, first_version))| {
            let count = pending.ids.len() as u64;
            if rows == 0 {
                return Ok(None);
            }
            if rows != count {
                return Err(odd(format!(
                    "wrote {rows} of the {count} events for `{}`",
                    pending.stream_id
                )));
            }
            Ok(Some(AppendResult {
                first_version,
                last_version: first_version + count - 1,
                first_position,
                last_position: first_position + count - 1,
                replayed: false,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append::statement::Statements;
    use crate::append::writers::Writers;
    use crate::append::xid_guard::XidGuard;
    use crate::notify::Notifications;
    use eventsource::Metadata;
    use eventsource::clock::Clock;

    /// An appender that never connects (these tests only look at the
    /// queue), a group commit with one runner, and the runtime the pool
    /// lives on.
    fn parts() -> (Arc<Appender>, Arc<GroupCommit>, tokio::runtime::Runtime) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let pool = {
            let _inside = runtime.enter();
            sqlx::PgPool::connect_lazy("postgres://localhost/unused").unwrap()
        };
        let schema = Identifier::trusted("eventsource");
        let appender = Appender::new(
            pool,
            Statements::new(&schema),
            Arc::new(Writers::new(0)),
            Arc::new(XidGuard::new(&schema)),
            Arc::new(Notifications::new(None, Clock::system())),
        );
        (
            Arc::new(appender),
            Arc::new(GroupCommit::new(1, &schema)),
            runtime,
        )
    }

    fn queue(group: &GroupCommit, stream_id: &str) -> oneshot::Receiver<Answer> {
        let events = vec![NewEvent::new("t.E", 1, "{}", Metadata::new())];
        let request = Request::new(stream_id, "t.A", ExpectedVersion::Any, &events).unwrap();
        let (reply, answer) = oneshot::channel();
        let mut state = group.state();
        state
            .queue
            .push_back(Pending::new(&request, &events, reply));
        answer
    }

    #[test]
    fn a_runner_dropped_before_it_ran_gives_back_its_slot_and_the_queue() {
        let (appender, group, _pool_runtime) = parts();
        let mut answer = queue(&group, "s");
        group.state().running = 1;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.spawn(Runner::new(appender, group.clone()).run());
        drop(runtime);
        let state = group.state();
        assert_eq!(state.running, 0);
        assert!(state.queue.is_empty() && state.busy.is_empty());
        drop(state);
        assert!(
            answer.try_recv().is_err(),
            "the append is sent to run alone"
        );
    }

    #[test]
    fn a_group_takes_one_append_per_stream_and_skips_busy_ones() {
        let (_appender, group, _pool_runtime) = parts();
        let _a = queue(&group, "a");
        let _b = queue(&group, "b");
        let _a2 = queue(&group, "a");
        let _c = queue(&group, "c");
        let gone = queue(&group, "d");
        drop(gone);
        let mut state = group.state();
        state.busy.insert("c".into());
        let group = take(&mut state);
        let names: Vec<&str> = group.iter().map(|p| &*p.stream_id).collect();
        assert_eq!(names, ["a", "b"]);
        let left: Vec<&str> = state.queue.iter().map(|p| &*p.stream_id).collect();
        assert_eq!(left, ["a", "c"], "skipped appends keep their order");
        assert!(state.busy.contains("a") && state.busy.contains("b"));
    }

    /// A queued append of `events` events to `stream_id`, and its reply.
    fn pending(stream_id: &str, events: usize) -> (Pending, oneshot::Receiver<Answer>) {
        let events: Vec<_> = (0..events)
            .map(|_| NewEvent::new("t.E", 1, "{}", Metadata::new()))
            .collect();
        let request = Request::new(stream_id, "t.A", ExpectedVersion::Any, &events).unwrap();
        let (reply, answer) = oneshot::channel();
        (Pending::new(&request, &events, reply), answer)
    }

    #[test]
    fn the_inserted_rows_say_which_appends_were_written_and_where() {
        let (a, _a) = pending("a", 1);
        let (b, _b) = pending("b", 3);
        let (c, _c) = pending("c", 1);
        let group = [a, b, c];
        let owner = [0, 1, 1, 1, 2];
        let low = 77 * SLOTS as i64;
        // `b` left out; rows in any order.
        let results = answers(&group, &owner, &[low + 5, low + 1], &[9, 4]).unwrap();
        let a = results[0].unwrap();
        assert_eq!((a.first_version, a.last_version), (4, 4));
        assert_eq!(
            (a.first_position, a.last_position),
            (low as u64 + 1, low as u64 + 1)
        );
        assert!(results[1].is_none());
        let c = results[2].unwrap();
        assert_eq!((c.first_version, c.first_position), (9, low as u64 + 5));
        let all = answers(
            &group,
            &owner,
            &[low + 4, low + 2, low + 3, low + 1, low + 5],
            &[3, 1, 2, 4, 9],
        )
        .unwrap();
        let b = all[1].unwrap();
        assert_eq!((b.first_version, b.last_version), (1, 3));
        assert_eq!(
            (b.first_position, b.last_position),
            (low as u64 + 2, low as u64 + 4)
        );
        assert!(!b.replayed);
    }

    #[test]
    fn anything_but_whole_appends_is_an_error() {
        let (a, _a) = pending("a", 2);
        let group = [a];
        let low = 5 * SLOTS as i64;
        for (positions, versions) in [
            (vec![low + 1], vec![1]),
            (vec![low + 1, low + 3], vec![1, 2]),
            (vec![low, low + 1], vec![1, 2]),
            (vec![low + 1, low + 2], vec![1]),
            (vec![-1, low + 2], vec![1, 2]),
        ] {
            assert!(
                answers(&group, &[0, 0], &positions, &versions).is_err(),
                "{positions:?} {versions:?}"
            );
        }
        assert!(answers(&group, &[0, 0], &[], &[]).unwrap()[0].is_none());
    }

    #[test]
    fn a_group_stops_at_the_append_limit() {
        let (_appender, group, _pool_runtime) = parts();
        let mut answers = Vec::new();
        for i in 0..MAX_APPENDS + 3 {
            answers.push(queue(&group, &format!("s-{i}")));
        }
        let mut state = group.state();
        assert_eq!(take(&mut state).len(), MAX_APPENDS);
        assert_eq!(state.queue.len(), 3);
    }
}
