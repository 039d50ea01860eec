//! The rebuild in place of a partitioned projection, coordinated across the
//! workers of its partitions in one runner.
//!
//! The rule: the runner asking for it must hold every partition's lease
//! (otherwise [`RunnerError::PartitionsNotHeld`]). Another instance holding
//! a partition would go on writing the read model from its old checkpoint
//! while this one's reset cleared it, and never replay what was cleared.
//!
//! The steps: every partition's worker stops between units of work and
//! says it is ready (within a lease TTL, or the rebuild is given up with
//! nothing changed); partition 0 then resets the read model and its
//! checkpoint; only once that succeeded do the others reset their
//! checkpoints, and all of them replay their share of the log from the
//! start. No partition processes an event between the reset of the read
//! model and its own reset, so none is applied twice or lost.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::messages::{Control, PartitionRebuild, ResetScope};
use super::rebuild::ProgressFn;
use super::status::RebuildProgress;
use crate::clock::Clock;
use crate::projection::RunnerError;

/// The replays' reports, by partition, summed for the caller.
struct Reports {
    parts: Mutex<Vec<RebuildProgress>>,
    on_progress: ProgressFn,
}

impl Reports {
    fn report(&self, index: usize, report: &RebuildProgress) {
        let sum = {
            let mut parts = self.parts.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(part) = parts.get_mut(index) {
                *part = *report;
            }
            sum(&parts)
        };
        (self.on_progress)(&sum);
    }
}

/// A partition's report before its replay began.
const NOTHING: RebuildProgress = RebuildProgress {
    done: 0,
    total: 0,
    elapsed: Duration::ZERO,
    rate: 0.0,
};

/// The partitions' reports as one: events summed, the longest time.
fn sum(parts: &[RebuildProgress]) -> RebuildProgress {
    let done = parts.iter().map(|p| p.done).sum();
    let elapsed = parts
        .iter()
        .map(|p| p.elapsed)
        .max()
        .unwrap_or(Duration::ZERO);
    RebuildProgress {
        done,
        total: parts.iter().map(|p| p.total).sum(),
        elapsed,
        rate: done as f64 / elapsed.as_secs_f64().max(1e-9),
    }
}

/// Rebuilds the partitioned projection `name` through the control channels
/// of its partitions' workers (in partition order), waiting at most `ready_within`
/// for them all to stop between units of work.
pub(super) async fn rebuild(
    name: &str,
    controls: Vec<mpsc::Sender<Control>>,
    clock: &Clock,
    ready_within: Duration,
    on_progress: ProgressFn,
) -> Result<RebuildProgress, RunnerError> {
    let stopped = || RunnerError::Stopped(name.to_owned());
    let reports = Arc::new(Reports {
        parts: Mutex::new(vec![NOTHING; controls.len()]),
        on_progress,
    });
    let mut readies = Vec::with_capacity(controls.len());
    let mut gos = Vec::with_capacity(controls.len());
    let mut resets = Vec::with_capacity(controls.len());
    let mut replies = Vec::with_capacity(controls.len());
    for (index, control) in controls.iter().enumerate() {
        let (ready, ready_rx) = oneshot::channel();
        let (go_tx, go) = oneshot::channel();
        let (reset, reset_rx) = oneshot::channel();
        let (reply, reply_rx) = oneshot::channel();
        let reports = reports.clone();
        control
            .send(Control::PartitionRebuild(PartitionRebuild {
                ready,
                go,
                reset,
                progress: Box::new(move |report| reports.report(index, report)),
                reply,
            }))
            .await
            .map_err(|_| stopped())?;
        readies.push(ready_rx);
        gos.push(go_tx);
        resets.push(reset_rx);
        replies.push(reply_rx);
    }
    // Until every worker is ready, giving up (dropping `gos`) changes nothing.
    let count = u32::try_from(controls.len()).unwrap_or(u32::MAX);
    let deadline = clock.instant() + ready_within;
    let mut not_held = 0u32;
    let mut refused = None;
    for ready in readies {
        let left = deadline.saturating_duration_since(clock.instant());
        match clock.timeout(left, ready).await {
            Ok(Ok(Ok(()))) => {}
            // On standby (another instance holds it), or busy past a
            // lease TTL: counted as not held.
            Ok(Ok(Err(RunnerError::NotOwner(_)))) | Err(_) => not_held += 1,
            Ok(Ok(Err(error))) => {
                refused.get_or_insert(error);
            }
            Ok(Err(_)) => {
                refused.get_or_insert_with(stopped);
            }
        }
    }
    if not_held > 0 {
        return Err(RunnerError::PartitionsNotHeld {
            name: name.to_owned(),
            held: count.saturating_sub(not_held),
            count,
        });
    }
    if let Some(error) = refused {
        return Err(error);
    }
    let mut gos = gos.into_iter();
    let mut resets = resets.into_iter();
    let mut totals = Vec::with_capacity(controls.len());
    // The read model first, by partition 0; on failure the others keep
    // their checkpoints, and the read model is as a failed unpartitioned
    // reset leaves it.
    if let (Some(go), Some(reset)) = (gos.next(), resets.next()) {
        go.send(ResetScope::ReadModel).map_err(|_| stopped())?;
        totals.push(reset.await.map_err(|_| stopped())??);
    }
    for (go, reset) in gos.by_ref().zip(resets.by_ref()) {
        go.send(ResetScope::Checkpoint).map_err(|_| stopped())?;
        totals.push(reset.await.map_err(|_| stopped())??);
    }
    {
        let mut parts = reports.parts.lock().unwrap_or_else(PoisonError::into_inner);
        for (part, total) in parts.iter_mut().zip(totals) {
            part.total = total;
        }
    }
    let mut ended = Vec::with_capacity(replies.len());
    for reply in replies {
        ended.push(reply.await.map_err(|_| stopped())??);
    }
    Ok(sum(&ended))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_sum_events_and_take_the_longest_time() {
        let part = |done, total, secs| RebuildProgress {
            done,
            total,
            elapsed: Duration::from_secs(secs),
            rate: 0.0,
        };
        let total = sum(&[part(10, 20, 2), part(30, 30, 4)]);
        assert_eq!((total.done, total.total), (40, 50));
        assert_eq!(total.elapsed, Duration::from_secs(4));
        assert!((total.rate - 10.0).abs() < 1e-9);
    }
}
