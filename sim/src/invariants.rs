//! What must hold after every run, whatever the faults did.

use std::collections::{BTreeMap, BTreeSet};

use eventsource::RecordedEvent;
use eventsource::saga::SagaStore;
use eventsource::store::{EventFilter, EventStore};
use futures::TryStreamExt;
use serde::Deserialize;

use crate::read_model::{BalancesProjection, money_change};
use crate::sender::{Answer, Operation};
use crate::world::Ended;
use eventsource::projection::Projection;

/// Checks every invariant; returns the violations (empty: the run passed).
pub async fn check(ended: &Ended) -> Vec<String> {
    let mut violations = Vec::new();
    let log: Vec<RecordedEvent> = match ended
        .store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
    {
        Ok(log) => log,
        Err(error) => return vec![format!("the log cannot be read: {error}")],
    };
    if !ended.settled {
        violations.push(
            "the healed system did not settle: a projection or saga never caught up".to_owned(),
        );
    }
    if ended.leaked_tasks > 0 {
        violations.push(format!(
            "{} task(s) still alive after shutdown",
            ended.leaked_tasks
        ));
    }
    violations.extend(ended.fencing.violations());
    log_is_ordered(&log, &mut violations);
    answers_are_stored_once(ended, &log, &mut violations);
    decisions_saw_the_head(&log, &mut violations);
    balances_fold_the_log(ended, &log, &mut violations);
    audit_saw_everything(ended, &log, &mut violations);
    sagas_ended(ended, &log, &mut violations).await;
    violations.extend(ended.deadlines.check(&log, ended.ended_at));
    violations
}

/// Global positions strictly increase; each stream's versions run 1, 2, …;
/// no event id is stored twice.
fn log_is_ordered(log: &[RecordedEvent], violations: &mut Vec<String>) {
    let mut versions: BTreeMap<&str, u64> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    let mut last = 0;
    for event in log {
        if event.global_position <= last {
            violations.push(format!("position {} after {last}", event.global_position));
        }
        last = event.global_position;
        let version = versions.entry(&event.stream_id).or_default();
        *version += 1;
        if event.stream_version != *version {
            violations.push(format!(
                "{} at version {}, expected {}",
                event.stream_id, event.stream_version, version
            ));
        }
        if !ids.insert(event.event_id) {
            violations.push(format!("event id {} stored twice", event.event_id));
        }
    }
}

#[derive(Deserialize)]
struct Fields {
    op: Option<u64>,
    transfer: Option<u64>,
    at: Option<u64>,
}

fn fields(event: &RecordedEvent) -> Option<Fields> {
    serde_json::from_str(&event.payload).ok()
}

/// Every answered operation is in the log exactly once (a refused one not
/// at all), at the positions its answer gave.
fn answers_are_stored_once(ended: &Ended, log: &[RecordedEvent], violations: &mut Vec<String>) {
    let mut by_op: BTreeMap<u64, Vec<&RecordedEvent>> = BTreeMap::new();
    let mut started: BTreeMap<u64, usize> = BTreeMap::new();
    let mut noted: BTreeMap<u64, Vec<&RecordedEvent>> = BTreeMap::new();
    for event in log {
        let Some(f) = fields(event) else { continue };
        match &*event.event_name {
            "sim.Deposited" | "sim.Withdrawn" => {
                by_op.entry(f.op.unwrap_or(0)).or_default().push(event)
            }
            "sim.TransferStarted" => *started.entry(f.transfer.unwrap_or(0)).or_default() += 1,
            crate::sender::NOTED => noted.entry(f.op.unwrap_or(0)).or_default().push(event),
            _ => {}
        }
    }
    let at = |first: u64| log.iter().find(|e| e.global_position == first);
    for script in &ended.scripts {
        if !script.finished() {
            violations.push("a sender never finished its script".to_owned());
        }
        for done in script.done() {
            let op = done.op;
            let stored = match &done.operation {
                Operation::Deposit { .. } | Operation::Withdraw { .. } => {
                    by_op.get(&op).map_or(0, Vec::len)
                }
                Operation::Transfer { .. } => started.get(&op).copied().unwrap_or(0),
                Operation::Note { ids } => {
                    let events = noted.get(&op).map_or(&[][..], Vec::as_slice);
                    let stored_ids: Vec<_> = events.iter().map(|e| e.event_id).collect();
                    if stored_ids != *ids {
                        violations.push(format!(
                            "op {op}: the batch of {} events is stored as {} events",
                            ids.len(),
                            stored_ids.len()
                        ));
                    }
                    usize::from(!events.is_empty())
                }
            };
            let expected = usize::from(done.answer != Answer::Rejected);
            if stored != expected {
                violations.push(format!(
                    "op {op} answered {:?} is stored {stored} time(s)",
                    done.answer
                ));
            }
            if let Answer::Appended { stream, positions } = &done.answer {
                match at(positions.0) {
                    Some(event) if *event.stream_id == **stream => {}
                    other => violations.push(format!(
                        "op {op}: acknowledged at {positions:?} in {stream}, the log has {:?} there",
                        other.map(|e| &*e.stream_id)
                    )),
                }
            }
        }
    }
}

/// Every account event was decided on its stream's head, and no balance
/// ever went below zero.
fn decisions_saw_the_head(log: &[RecordedEvent], violations: &mut Vec<String>) {
    let mut balances: BTreeMap<&str, i64> = BTreeMap::new();
    for event in log {
        if &*event.aggregate_type != "sim.Account" {
            continue;
        }
        if let Some(at) = fields(event).and_then(|f| f.at) {
            if at != event.stream_version {
                violations.push(format!(
                    "{} version {}: decided on a stale state (as version {at})",
                    event.stream_id, event.stream_version
                ));
            }
        }
        let balance = balances.entry(&event.stream_id).or_default();
        *balance += money_change(event).unwrap_or(0);
        if *balance < 0 {
            violations.push(format!(
                "{} is overdrawn ({balance}) at version {}",
                event.stream_id, event.stream_version
            ));
        }
    }
}

/// The transactional read model is the fold of the log, each event once,
/// in order.
fn balances_fold_the_log(ended: &Ended, log: &[RecordedEvent], violations: &mut Vec<String>) {
    let model = ended.balances.balances();
    let mut expected = BTreeMap::new();
    let mut positions = Vec::new();
    for event in log {
        if !BalancesProjection::EVENTS.contains(&&*event.event_name) {
            continue;
        }
        positions.push(event.global_position);
        *expected.entry(event.stream_id.to_string()).or_insert(0) +=
            money_change(event).unwrap_or(0);
    }
    if model.applied != positions {
        let twice = model
            .applied
            .len()
            .saturating_sub(model.applied.iter().collect::<BTreeSet<_>>().len());
        let missing = positions
            .iter()
            .filter(|p| !model.applied.contains(p))
            .count();
        violations.push(format!(
            "balances: applied {} events ({twice} more than once, {missing} missing) of {}",
            model.applied.len(),
            positions.len()
        ));
    }
    if model.balances != expected {
        violations.push(format!(
            "balances: read model {:?}, fold of the log {expected:?}",
            model.balances
        ));
    }
}

/// The audit projection saw every event it handles at least once.
fn audit_saw_everything(ended: &Ended, log: &[RecordedEvent], violations: &mut Vec<String>) {
    use crate::read_model::AuditProjection;
    let seen: BTreeSet<u64> = ended.deliveries.positions().into_iter().collect();
    let skipped: Vec<u64> = log
        .iter()
        .filter(|e| AuditProjection::EVENTS.contains(&&*e.event_name))
        .map(|e| e.global_position)
        .filter(|p| !seen.contains(p))
        .collect();
    if !skipped.is_empty() {
        violations.push(format!(
            "audit: {} event(s) never delivered: {skipped:?}",
            skipped.len()
        ));
    }
}

/// Every transfer ended, its saga instance is completed, and the money
/// moved all the way or not at all.
async fn sagas_ended(ended: &Ended, log: &[RecordedEvent], violations: &mut Vec<String>) {
    let instances = match ended.sagas.list("sim.transfer").await {
        Ok(instances) => instances,
        Err(error) => {
            violations.push(format!("saga instances cannot be listed: {error}"));
            return;
        }
    };
    let completed: BTreeSet<_> = instances
        .iter()
        .filter(|(_, i)| i.completed)
        .map(|(id, _)| *id)
        .collect();
    let mut steps: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for event in log {
        if let Some(transfer) = fields(event).and_then(|f| f.transfer) {
            steps.entry(transfer).or_default().push(&event.event_name);
        }
    }
    for event in log
        .iter()
        .filter(|e| &*e.event_name == "sim.TransferStarted")
    {
        let transfer = fields(event).and_then(|f| f.transfer).unwrap_or(0);
        let correlation = event.metadata.correlation_id.unwrap_or(event.event_id);
        if !completed.contains(&correlation) {
            violations.push(format!("saga of transfer {transfer} did not complete"));
        }
        let seen = steps.get(&transfer).cloned().unwrap_or_default();
        let count = |name: &str| seen.iter().filter(|s| **s == name).count();
        let ends = count("sim.TransferCompleted") + count("sim.TransferFailed");
        let money = (
            count("sim.Debited"),
            count("sim.Credited"),
            count("sim.Refunded"),
        );
        let consistent = match (count("sim.TransferCompleted"), count("sim.TransferFailed")) {
            (1, 0) => money == (1, 1, 0),
            (0, 1) => money == (0, 0, 0) || money == (1, 0, 1),
            _ => false,
        };
        if ends != 1 || !consistent {
            violations.push(format!("transfer {transfer} ended as {seen:?}"));
        }
    }
}
