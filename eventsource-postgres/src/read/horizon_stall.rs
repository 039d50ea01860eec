//! Diagnosing a stuck horizon: which open transaction holds readers back.
//!
//! Readers wait, correctly, for every transaction that may still commit
//! below the events they are about to deliver (see the crate docs). A
//! transaction left open, or a prepared transaction nobody resolves, makes
//! that wait last indefinitely, and from the outside a stalled subscriber
//! looks like a bug in it. So once committed events have waited above the
//! horizon for [`PgStoreOptions::stall_warning`](crate::PgStoreOptions::stall_warning),
//! the reader names the blocker in one warning. The stall is keyed on the
//! events, not on the horizon's exact value: it lasts until the horizon
//! passes the head seen when it began (the horizon may creep meanwhile, as
//! unrelated short transactions come and go), and the next warning needs a
//! new stall.

use std::time::Duration;

use chrono::{DateTime, Utc};
use eventsource::StoreError;
use sqlx::Row;
use sqlx::postgres::PgRow;
use tokio::time::Instant;

use eventsource::clock::Clock;
use sqlx::PgPool;

use crate::append::TransactionIdsBehind;
use crate::append::XidGuard;
use crate::positions::transaction_of;
use crate::schema::Identifier;

/// The backend or prepared transaction whose top-level id is `$1`.
///
/// The horizon is the snapshot's `xmin`, the oldest transaction id still
/// running, and only these two hold one: a session's transaction, or a
/// prepared one, which survives its session and even a restart.
const BLOCKER: &str = "\
    SELECT 'backend' AS kind, a.pid, a.state, age(a.backend_xid) AS xid_age, \
        a.datname::text AS database, a.usename::text AS role, a.application_name, \
        a.xact_start AS since, NULL::text AS gid, left(a.query, 200) AS query \
    FROM pg_stat_activity a \
    WHERE a.backend_xid = ($1::int8::text::xid8)::xid \
    UNION ALL \
    SELECT 'prepared', NULL, NULL, age(p.transaction), p.database::text, p.owner::text, NULL, \
        p.prepared, p.gid, NULL \
    FROM pg_prepared_xacts p \
    WHERE p.transaction = ($1::int8::text::xid8)::xid \
    LIMIT 1";

/// What a stalled reader needs to name the blocker: its database, the
/// transaction-id guard and its clock.
pub(crate) struct Probe<'a> {
    pub(crate) pool: &'a PgPool,
    pub(crate) schema: &'a Identifier,
    pub(crate) xid: &'a XidGuard,
    pub(crate) clock: &'a Clock,
}

/// Watches one reader's horizon across its rounds.
#[derive(Debug)]
pub(crate) struct Stall {
    /// Which kind of reader this is, for the log.
    reader: &'static str,
    after: Option<Duration>,
    current: Option<Current>,
}

#[derive(Debug)]
struct Current {
    /// The head when the stall began: it ends once the horizon passes this.
    waiting_for: i64,
    since: Instant,
    warned: bool,
}

impl Stall {
    pub(crate) fn new(reader: &'static str, after: Option<Duration>) -> Self {
        Self {
            reader,
            after,
            current: None,
        }
    }

    /// Records a round that found `horizon` and, as the highest committed
    /// position it still has to deliver, `head` (`None`: nothing). Logs the
    /// warning when this round makes the stall long enough.
    pub(crate) async fn observe(&mut self, probe: &Probe<'_>, horizon: i64, head: Option<i64>) {
        if let Some(waited) = self.due(probe.clock.instant(), horizon, head) {
            report(probe, self.reader, horizon, waited).await;
        }
    }

    /// How long the events have waited, when a warning is due now.
    fn due(&mut self, now: Instant, horizon: i64, head: Option<i64>) -> Option<Duration> {
        let after = self.after?;
        // Rows below the horizon are deliverable: nothing waits.
        let Some(head) = head.filter(|h| *h >= horizon) else {
            self.current = None;
            return None;
        };
        match &mut self.current {
            Some(stall) if horizon <= stall.waiting_for => {
                let waited = now.saturating_duration_since(stall.since);
                if stall.warned || waited < after {
                    return None;
                }
                stall.warned = true;
                Some(waited)
            }
            _ => {
                self.current = Some(Current {
                    waiting_for: head,
                    since: now,
                    warned: false,
                });
                None
            }
        }
    }
}

/// Logs what holds the horizon at `horizon` back. Diagnostics only: a
/// failure to look is logged quietly and never disturbs the reader.
async fn report(probe: &Probe<'_>, reader: &'static str, horizon: i64, waited: Duration) {
    let schema = probe.schema.as_str();
    // First, since then no transaction is to blame: the events may sit
    // above every id the cluster has handed out (it was moved or reset).
    if let Err(err) = counter_check(probe).await {
        tracing::warn!(schema, reader, ?waited, "readers are stuck: {err}");
        return;
    }
    let xid =
        i64::try_from(transaction_of(u64::try_from(horizon).unwrap_or(0))).unwrap_or(i64::MAX);
    let found = sqlx::query(BLOCKER)
        .bind(xid)
        .fetch_optional(probe.pool)
        .await;
    match found {
        Ok(Some(row)) => match Blocker::from_row(&row) {
            Ok(blocker) => blocker.warn(schema, reader, xid, waited),
            Err(err) => {
                tracing::debug!(schema, error = %err, "cannot read the blocking transaction")
            }
        },
        Ok(None) => tracing::warn!(
            schema,
            reader,
            xid,
            ?waited,
            "committed events have waited behind open transaction {xid}, which neither \
             pg_stat_activity nor pg_prepared_xacts shows (it may just have ended; without \
             pg_read_all_stats a role cannot see other users' sessions)"
        ),
        Err(err) => {
            tracing::debug!(schema, error = %err, "cannot look up the blocking transaction")
        }
    }
}

/// The transaction-id guard, as a diagnosis: only its own failure counts.
async fn counter_check(probe: &Probe<'_>) -> Result<(), StoreError> {
    let Ok(mut conn) = probe.pool.acquire().await else {
        return Ok(());
    };
    match probe.xid.check(&mut conn).await {
        Err(err) if TransactionIdsBehind::in_error(&err).is_some() => Err(err),
        _ => Ok(()),
    }
}

/// A row of [`BLOCKER`].
struct Blocker {
    prepared: bool,
    pid: Option<i32>,
    state: Option<String>,
    xid_age: Option<i32>,
    database: Option<String>,
    role: Option<String>,
    application: Option<String>,
    since: Option<DateTime<Utc>>,
    gid: Option<String>,
    query: Option<String>,
}

impl Blocker {
    fn from_row(row: &PgRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            prepared: row.try_get::<&str, _>("kind")? == "prepared",
            pid: row.try_get("pid")?,
            state: row.try_get("state")?,
            xid_age: row.try_get("xid_age")?,
            database: row.try_get("database")?,
            role: row.try_get("role")?,
            application: row.try_get("application_name")?,
            since: row.try_get("since")?,
            gid: row.try_get("gid")?,
            query: row.try_get("query")?,
        })
    }

    fn warn(&self, schema: &str, reader: &str, xid: i64, waited: Duration) {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let since = self.since.map(|t| t.to_rfc3339()).unwrap_or_default();
        if self.prepared {
            tracing::warn!(
                schema,
                reader,
                xid,
                xid_age = self.xid_age,
                gid = %text(&self.gid),
                database = %text(&self.database),
                owner = %text(&self.role),
                prepared_at = %since,
                ?waited,
                "committed events wait behind a prepared (two-phase) transaction, which holds \
                 them back until someone runs COMMIT PREPARED or ROLLBACK PREPARED with its gid"
            );
        } else {
            tracing::warn!(
                schema,
                reader,
                xid,
                xid_age = self.xid_age,
                pid = self.pid,
                state = %text(&self.state),
                database = %text(&self.database),
                role = %text(&self.role),
                application = %text(&self.application),
                transaction_started = %since,
                query = %text(&self.query),
                ?waited,
                "committed events wait behind an open transaction; they are delivered when it \
                 ends (keep transactions short; consider idle_in_transaction_session_timeout)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_secs(30);

    fn at(t0: Instant, secs: u64) -> Instant {
        t0 + Duration::from_secs(secs)
    }

    #[test]
    fn warns_once_per_stall() {
        let t0 = Instant::now();
        let mut stall = Stall::new("test", Some(AFTER));
        assert_eq!(stall.due(at(t0, 0), 100, Some(500)), None);
        assert_eq!(stall.due(at(t0, 29), 100, Some(500)), None);
        assert_eq!(
            stall.due(at(t0, 31), 100, Some(600)),
            Some(Duration::from_secs(31))
        );
        for later in [32, 60, 600] {
            assert_eq!(
                stall.due(at(t0, later), 100, Some(700)),
                None,
                "warned again at {later}"
            );
        }
        // Past the head the stall began with: those events were delivered,
        // and the ones still waiting make a new stall.
        assert_eq!(stall.due(at(t0, 601), 501, Some(700)), None);
        assert_eq!(stall.due(at(t0, 630), 501, Some(700)), None);
        assert_eq!(stall.due(at(t0, 631), 600, Some(700)), Some(AFTER));
    }

    #[test]
    fn a_creeping_horizon_short_of_the_waiting_events_is_still_a_stall() {
        let t0 = Instant::now();
        let mut stall = Stall::new("test", Some(AFTER));
        assert_eq!(stall.due(at(t0, 0), 100, Some(10_000)), None);
        assert_eq!(stall.due(at(t0, 10), 200, Some(10_000)), None);
        assert_eq!(stall.due(at(t0, 30), 9_000, Some(10_000)), Some(AFTER));
        assert_eq!(stall.due(at(t0, 40), 9_999, Some(10_000)), None);
    }

    #[test]
    fn nothing_waiting_ends_the_stall() {
        let t0 = Instant::now();
        let mut stall = Stall::new("test", Some(AFTER));
        assert_eq!(stall.due(at(t0, 0), 100, Some(500)), None);
        // The horizon passed the head: everything was deliverable.
        assert_eq!(stall.due(at(t0, 20), 600, Some(500)), None);
        assert_eq!(
            stall.due(at(t0, 40), 600, Some(700)),
            None,
            "the clock did not restart"
        );
        assert_eq!(stall.due(at(t0, 70), 600, Some(700)), Some(AFTER));
        // A reader with nothing left to read is never stalled.
        assert_eq!(stall.due(at(t0, 700), 600, None), None);
        assert_eq!(stall.due(at(t0, 800), 600, None), None);
    }

    #[test]
    fn can_be_turned_off() {
        let t0 = Instant::now();
        let mut stall = Stall::new("test", None);
        assert_eq!(stall.due(t0, 100, Some(500)), None);
        assert_eq!(stall.due(at(t0, 3_600), 100, Some(500)), None);
    }
}
