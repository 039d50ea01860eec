//! What writers were told about their appends, and the checks of what the
//! store, subscribers and read models hold against it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Result;
use sqlx::{AssertSqlSafe, PgPool, Row};
use uuid::Uuid;

/// What an append's caller learned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The store answered success: every event is stored, the first and the
    /// last at these positions.
    Acked { first: u64, last: u64 },
    /// The store answered a definite refusal (a conflict) or the caller
    /// rolled its transaction back: nothing may be stored.
    Refused,
    /// The caller gave up without a definite answer (the server was gone):
    /// all of the batch may be stored, or none of it, never a part.
    Unknown,
}

/// One batch a writer tried to append.
#[derive(Clone, Debug)]
pub(crate) struct Batch {
    pub(crate) stream_id: String,
    pub(crate) event_ids: Vec<Uuid>,
    pub(crate) outcome: Outcome,
    /// When the caller saw the outcome, in milliseconds since the epoch.
    pub(crate) answered_ms: u64,
    /// Whether an attempt failed without a definite answer (the server went
    /// away mid-append) before the outcome: the same batch was sent again.
    pub(crate) retried: bool,
}

/// Every batch of a run, shared by the writer tasks.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ledger {
    batches: Arc<Mutex<Vec<Batch>>>,
}

impl Ledger {
    pub(crate) fn record(&self, batch: Batch) {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(batch);
    }

    pub(crate) fn batches(&self) -> Vec<Batch> {
        self.batches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many batches were sent again after an attempt with no answer.
    pub(crate) fn retried(&self) -> usize {
        self.batches().iter().filter(|b| b.retried).count()
    }

    /// How many events were acknowledged.
    pub(crate) fn acked_events(&self) -> usize {
        self.batches()
            .iter()
            .filter(|b| matches!(b.outcome, Outcome::Acked { .. }))
            .map(|b| b.event_ids.len())
            .sum()
    }
}

/// A stored event, as the check reads it back.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub(crate) position: u64,
    pub(crate) event_id: Uuid,
    pub(crate) writer: i64,
    pub(crate) seq: i64,
}

/// Reads every event of `schema` in global order.
pub(crate) async fn stored_events(pool: &PgPool, schema: &str) -> Result<Vec<Stored>> {
    let statement = format!(
        "SELECT global_position, event_id, \
                CASE json_typeof(payload::json->'writer') WHEN 'number' THEN (payload->>'writer')::bigint ELSE -1 END, \
                CASE json_typeof(payload::json->'seq') WHEN 'number' THEN (payload->>'seq')::bigint ELSE -1 END \
         FROM \"{schema}\".events ORDER BY global_position"
    );
    let rows = sqlx::query(AssertSqlSafe(statement))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(Stored {
                position: u64::try_from(row.try_get::<i64, _>(0)?)?,
                event_id: row.try_get(1)?,
                writer: row.try_get(2)?,
                seq: row.try_get(3)?,
            })
        })
        .collect()
}

/// Counts of what went wrong (all zero is a pass), and of the stored
/// events checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    /// Events checked.
    pub(crate) events: u64,
    /// Acknowledged events not stored, or stored events a consumer never got.
    pub(crate) lost: u64,
    /// Events stored, delivered or applied more than once.
    pub(crate) duplicated: u64,
    /// Events a subscriber passed over, or delivered out of order.
    pub(crate) skipped: u64,
    /// Batches partly stored.
    pub(crate) partial: u64,
    /// Anything else the checks found wrong (a refused batch stored, a
    /// position other than the one acknowledged, a parked event, ...).
    pub(crate) other: u64,
    /// The first few problems, described.
    pub(crate) problems: Vec<String>,
}

impl Counts {
    pub(crate) fn passed(&self) -> bool {
        self.lost == 0
            && self.duplicated == 0
            && self.skipped == 0
            && self.partial == 0
            && self.other == 0
    }

    pub(crate) fn add(&mut self, other: Counts) {
        self.events += other.events;
        self.lost += other.lost;
        self.duplicated += other.duplicated;
        self.skipped += other.skipped;
        self.partial += other.partial;
        self.other += other.other;
        for problem in other.problems {
            self.problem(problem);
        }
    }

    pub(crate) fn problem(&mut self, problem: impl Into<String>) {
        if self.problems.len() < 10 {
            self.problems.push(problem.into());
        }
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} events; lost {}, duplicated {}, skipped {}, partial {}, other {}",
            self.events, self.lost, self.duplicated, self.skipped, self.partial, self.other
        )
    }
}

/// Checks the store against what the writers were told: every acknowledged
/// event stored once where it was acknowledged, nothing of a refused batch,
/// all or nothing of a batch with an unknown outcome, no duplicate of a
/// logical event.
pub(crate) fn check_store(ledger: &Ledger, stored: &[Stored]) -> Counts {
    let mut counts = Counts {
        events: stored.len() as u64,
        ..Counts::default()
    };
    let by_id: HashMap<Uuid, &Stored> = stored.iter().map(|s| (s.event_id, s)).collect();
    let mut attempted = HashSet::new();
    for batch in ledger.batches() {
        let present: Vec<&Stored> = batch
            .event_ids
            .iter()
            .filter_map(|id| by_id.get(id).copied())
            .collect();
        attempted.extend(batch.event_ids.iter().copied());
        match &batch.outcome {
            Outcome::Acked { first, last } => {
                let missing = batch.event_ids.len() - present.len();
                if missing > 0 {
                    counts.lost += missing as u64;
                    counts.problem(format!(
                        "{missing} acknowledged event(s) of stream `{}` are not stored",
                        batch.stream_id
                    ));
                }
                let at: Vec<u64> = present.iter().map(|s| s.position).collect();
                let in_order = at.windows(2).all(|w| w[0] < w[1]);
                let ends = (at.first().copied(), at.last().copied());
                if missing == 0 && (!in_order || ends != (Some(*first), Some(*last))) {
                    counts.other += 1;
                    counts.problem(format!(
                        "stream `{}`: acknowledged at {first}..={last}, stored at {at:?}",
                        batch.stream_id
                    ));
                }
            }
            Outcome::Refused if !present.is_empty() => {
                counts.other += present.len() as u64;
                counts.problem(format!(
                    "{} event(s) of a refused or rolled-back batch of `{}` are stored",
                    present.len(),
                    batch.stream_id
                ));
            }
            Outcome::Refused => {}
            Outcome::Unknown => {
                if !present.is_empty() && present.len() < batch.event_ids.len() {
                    counts.partial += 1;
                    counts.problem(format!(
                        "a batch of `{}` with an unknown outcome is partly stored ({} of {})",
                        batch.stream_id,
                        present.len(),
                        batch.event_ids.len()
                    ));
                }
            }
        }
    }
    let strangers = stored
        .iter()
        .filter(|s| !attempted.contains(&s.event_id))
        .count();
    if strangers > 0 {
        counts.other += strangers as u64;
        counts.problem(format!("{strangers} stored event(s) no writer appended"));
    }
    let mut logical: HashMap<(i64, i64), u32> = HashMap::new();
    for s in stored {
        *logical.entry((s.writer, s.seq)).or_default() += 1;
    }
    let doubled: u64 = logical.values().map(|n| u64::from(n - 1)).sum();
    if doubled > 0 {
        counts.duplicated += doubled;
        counts.problem(format!(
            "{doubled} logical event(s) are stored more than once"
        ));
    }
    counts
}

/// Checks what a subscriber delivered (positions and ids, in delivery
/// order) against the stored log: every stored event once, in order.
pub(crate) fn check_delivery(stored: &[Stored], delivered: &[(u64, Uuid)]) -> Counts {
    let mut counts = Counts::default();
    let mut seen: HashMap<Uuid, u32> = HashMap::new();
    let mut last = 0;
    for (position, id) in delivered {
        *seen.entry(*id).or_default() += 1;
        if *position <= last {
            counts.skipped += 1;
            counts.problem(format!("delivered position {position} after {last}"));
        }
        last = last.max(*position);
    }
    let doubled: u64 = seen.values().map(|n| u64::from(n - 1)).sum();
    if doubled > 0 {
        counts.duplicated += doubled;
        counts.problem(format!("{doubled} event(s) delivered more than once"));
    }
    let missing: Vec<u64> = stored
        .iter()
        .filter(|s| !seen.contains_key(&s.event_id))
        .map(|s| s.position)
        .collect();
    if !missing.is_empty() {
        counts.skipped += missing.len() as u64;
        counts.problem(format!(
            "{} stored event(s) never delivered, the first at position {}",
            missing.len(),
            missing[0]
        ));
    }
    let stored_ids: HashSet<Uuid> = stored.iter().map(|s| s.event_id).collect();
    let strangers = seen.keys().filter(|id| !stored_ids.contains(id)).count();
    if strangers > 0 {
        counts.other += strangers as u64;
        counts.problem(format!("{strangers} delivered event(s) are not stored"));
    }
    counts
}

/// Checks a read model (one row per application, by event id) against the
/// stored log: every stored event applied exactly once.
pub(crate) fn check_read_model(stored: &[Stored], applied: &[Uuid]) -> Counts {
    let mut counts = Counts::default();
    let mut rows: BTreeMap<Uuid, u32> = BTreeMap::new();
    for id in applied {
        *rows.entry(*id).or_default() += 1;
    }
    let lost = stored
        .iter()
        .filter(|s| !rows.contains_key(&s.event_id))
        .count();
    if lost > 0 {
        counts.lost += lost as u64;
        counts.problem(format!(
            "{lost} stored event(s) missing from the read model"
        ));
    }
    let doubled: u64 = rows.values().map(|n| u64::from(n - 1)).sum();
    if doubled > 0 {
        counts.duplicated += doubled;
        counts.problem(format!(
            "{doubled} event(s) applied to the read model more than once"
        ));
    }
    let stored_ids: HashSet<Uuid> = stored.iter().map(|s| s.event_id).collect();
    let strangers = rows.keys().filter(|id| !stored_ids.contains(id)).count();
    if strangers > 0 {
        counts.other += strangers as u64;
        counts.problem(format!(
            "{strangers} read-model row(s) for events that are not stored"
        ));
    }
    counts
}

/// The event ids of the read model's rows in `schema`, one per row.
pub(crate) async fn read_model_rows(pool: &PgPool, schema: &str) -> Result<Vec<Uuid>> {
    let statement = format!("SELECT event_id FROM \"{schema}\".read_model");
    let rows = sqlx::query(AssertSqlSafe(statement))
        .fetch_all(pool)
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(position: u64, id: Uuid, seq: i64) -> Stored {
        Stored {
            position,
            event_id: id,
            writer: 0,
            seq,
        }
    }

    #[test]
    fn each_kind_of_damage_is_counted() {
        let (a, b, c, d) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let ledger = Ledger::default();
        let batch = |ids: Vec<Uuid>, outcome| Batch {
            stream_id: "s".into(),
            event_ids: ids,
            outcome,
            answered_ms: 0,
            retried: false,
        };
        ledger.record(batch(vec![a], Outcome::Acked { first: 1, last: 1 }));
        ledger.record(batch(vec![b, c], Outcome::Unknown));
        ledger.record(batch(vec![d], Outcome::Acked { first: 9, last: 9 }));
        // `a` stored, `b` without `c`, `d` lost.
        let log = vec![stored(1, a, 1), stored(2, b, 2)];
        let counts = check_store(&ledger, &log);
        assert_eq!((counts.lost, counts.partial, counts.other), (1, 1, 0));

        let delivered = vec![(2, b), (1, a), (2, b)];
        let counts = check_delivery(&log, &delivered);
        assert_eq!((counts.skipped, counts.duplicated), (2, 1));

        let counts = check_read_model(&log, &[a, a]);
        assert_eq!((counts.lost, counts.duplicated), (1, 1));
    }
}
