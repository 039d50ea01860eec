//! A rebuild between its reset and the moment its replay goes live.

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::status::RebuildProgress;
use crate::projection::RunnerError;

/// Called with each rebuild progress report.
pub(super) type ProgressFn = Box<dyn Fn(&RebuildProgress) + Send + Sync>;

/// The caller of a rebuild, waiting for the replay to go live.
pub(super) struct PendingRebuild {
    progress: ProgressFn,
    reply: oneshot::Sender<Result<RebuildProgress, RunnerError>>,
    report: RebuildProgress,
    started: Instant,
    logged: Instant,
}

impl PendingRebuild {
    /// A rebuild whose replay goes through `total` events.
    pub(super) fn new(
        progress: ProgressFn,
        reply: oneshot::Sender<Result<RebuildProgress, RunnerError>>,
        total: u64,
        now: Instant,
    ) -> Self {
        Self {
            progress,
            reply,
            report: RebuildProgress {
                done: 0,
                total,
                elapsed: Default::default(),
                rate: 0.0,
            },
            started: now,
            logged: now,
        }
    }

    /// `replayed` more records went through the projection, as of `now`.
    pub(super) fn advanced(&mut self, name: &str, replayed: u64, now: Instant) {
        let report = &mut self.report;
        report.done += replayed;
        report.elapsed = now.saturating_duration_since(self.started);
        report.rate = report.done as f64 / report.elapsed.as_secs_f64().max(1e-9);
        (self.progress)(report);
        if now.saturating_duration_since(self.logged).as_secs() >= 1 {
            self.logged = now;
            tracing::info!(
                projection = name,
                done = report.done,
                total = report.total,
                rate = report.rate as u64,
                "rebuilding"
            );
        }
    }

    /// The replay is live: the rebuild is done.
    pub(super) fn finish(self, name: &str) {
        tracing::info!(
            projection = name,
            done = self.report.done,
            total = self.report.total,
            seconds = self.report.elapsed.as_secs_f64(),
            "rebuild finished"
        );
        let _ = self.reply.send(Ok(self.report));
    }

    /// The rebuild cannot finish here.
    pub(super) fn fail(self, error: RunnerError) {
        let _ = self.reply.send(Err(error));
    }
}
