//! The deadline oracle: what the saga store held of each deadline, as the
//! faulty wrapper saw the inner store answer (before any lost reply), and
//! the invariants of deadlines checked against it and the log.
//!
//! On the single-threaded runtime nothing runs between the inner store's
//! answer and the oracle's note, so the oracle's order is the store's.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use eventsource::RecordedEvent;
use eventsource::saga::{Deadline, DeadlineReached};
use uuid::Uuid;

/// A deadline's saga, instance and name: one live deadline each.
type Key = (String, Uuid, String);

/// What happened to one deadline id in the store.
#[derive(Clone, Debug)]
struct Seen {
    deadline: Deadline,
    /// When (the oracle's step) a cancellation, or a schedule of the same
    /// name, removed it.
    removed: Option<u64>,
    /// When (the oracle's step) it was first claimed.
    claimed: Option<u64>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Counts notes: orders events of one simulated instant.
    step: u64,
    ids: BTreeMap<Uuid, Seen>,
    live: BTreeMap<Key, Uuid>,
}

/// Shared by every handle on the faulty saga store of a run.
#[derive(Clone, Debug, Default)]
pub struct DeadlineOracle {
    inner: Arc<Mutex<Inner>>,
}

fn key(deadline: &Deadline) -> Key {
    (
        deadline.saga.clone(),
        deadline.correlation_id,
        deadline.name.clone(),
    )
}

impl DeadlineOracle {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every note is one insert or update: nothing is left half done.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The store now holds `deadline`, replacing any of its name.
    pub fn scheduled(&self, deadline: &Deadline) {
        let mut inner = self.lock();
        inner.step += 1;
        let at = inner.step;
        if let Some(old) = inner.live.insert(key(deadline), deadline.id)
            && let Some(seen) = inner.ids.get_mut(&old)
        {
            seen.removed.get_or_insert(at);
        }
        inner.ids.insert(
            deadline.id,
            Seen {
                deadline: deadline.clone(),
                removed: None,
                claimed: None,
            },
        );
    }

    /// The store removed the live deadline `name` of an instance.
    pub fn cancelled(&self, saga: &str, correlation_id: Uuid, name: &str) {
        let mut inner = self.lock();
        inner.step += 1;
        let at = inner.step;
        let key = (saga.to_owned(), correlation_id, name.to_owned());
        if let Some(id) = inner.live.remove(&key)
            && let Some(seen) = inner.ids.get_mut(&id)
        {
            seen.removed.get_or_insert(at);
        }
    }

    /// The store handed out `deadlines` to a claimer.
    pub fn claimed(&self, deadlines: &[Deadline]) {
        let mut inner = self.lock();
        inner.step += 1;
        let at = inner.step;
        for deadline in deadlines {
            if let Some(seen) = inner.ids.get_mut(&deadline.id) {
                seen.claimed.get_or_insert(at);
            }
        }
    }

    /// The store removed fired deadline `id`.
    pub fn fired(&self, id: Uuid) {
        let mut inner = self.lock();
        let Some(key) = inner.ids.get(&id).map(|seen| key(&seen.deadline)) else {
            return;
        };
        if inner.live.get(&key) == Some(&id) {
            inner.live.remove(&key);
        }
    }

    /// How many deadlines were scheduled.
    pub fn scheduled_count(&self) -> usize {
        self.lock().ids.len()
    }

    /// Checks the deadlines against the final `log`, at simulated time
    /// `now`, the faults healed and the system settled: each deadline due
    /// and not removed fired exactly once (late rather than never), none
    /// fired before its time, none fired after a removal stored before its
    /// claim, and nothing fired that was never scheduled.
    pub fn check(&self, log: &[RecordedEvent], now: chrono::DateTime<chrono::Utc>) -> Vec<String> {
        let inner = self.lock();
        let mut violations = Vec::new();
        let mut fired: BTreeMap<Uuid, Vec<&RecordedEvent>> = BTreeMap::new();
        for event in log
            .iter()
            .filter(|e| &*e.event_name == "eventsource.DeadlineReached")
        {
            // The scheduler names the deadline as the event's cause.
            match event.metadata.causation_id {
                Some(id) => fired.entry(id).or_default().push(event),
                None => violations.push(format!(
                    "deadline event {} names no deadline",
                    event.event_id
                )),
            }
        }
        for (id, events) in &fired {
            let Some(seen) = inner.ids.get(id) else {
                violations.push(format!("deadline {id} fired but was never scheduled"));
                continue;
            };
            if events.len() > 1 {
                violations.push(format!(
                    "deadline {id} fired {} times: stored more than once",
                    events.len()
                ));
            }
            for event in events {
                let reached: Option<DeadlineReached> = serde_json::from_str(&event.payload).ok();
                if reached
                    .as_ref()
                    .is_none_or(|r| r.due_at != seen.deadline.due_at)
                {
                    violations.push(format!(
                        "deadline {id} fired with another due time: {:?}",
                        reached.map(|r| r.due_at)
                    ));
                }
                if event.recorded_at < seen.deadline.due_at {
                    violations.push(format!(
                        "deadline {id} fired early: at {}, due {}",
                        event.recorded_at, seen.deadline.due_at
                    ));
                }
            }
            match (seen.removed, seen.claimed) {
                (Some(removed), Some(claimed)) if removed < claimed => {
                    violations.push(format!("deadline {id} fired after it was cancelled"))
                }
                (_, None) => violations.push(format!("deadline {id} fired but was never claimed")),
                _ => {}
            }
        }
        for (id, seen) in &inner.ids {
            let owed = seen.removed.is_none() && seen.deadline.due_at <= now;
            if owed && !fired.contains_key(id) {
                violations.push(format!(
                    "deadline {id} due at {} never fired",
                    seen.deadline.due_at
                ));
            }
        }
        violations
    }
}
