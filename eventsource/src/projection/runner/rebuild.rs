//! A rebuild between its reset and the moment its replay goes live.

use tokio::sync::oneshot;
use tokio::time::Instant;
use uuid::Uuid;

use super::status::RebuildProgress;
use crate::projection::RunnerError;

/// Called with each rebuild progress report.
pub(super) type ProgressFn = Box<dyn Fn(&RebuildProgress) + Send + Sync>;

/// Who waits for a rebuild.
pub(super) enum Requester {
    /// A caller in this process ([`ProjectionRunner::rebuild`](super::ProjectionRunner::rebuild)).
    Caller {
        progress: ProgressFn,
        reply: oneshot::Sender<Result<RebuildProgress, RunnerError>>,
    },
    /// A control request recorded in the store, by its id.
    Request(Uuid),
}

/// How a rebuild ended, for a requester in the store.
pub(super) struct Ended {
    /// The control request.
    pub(super) request: Uuid,
    /// What became of it.
    pub(super) outcome: Result<String, String>,
}

/// The caller of a rebuild, waiting for the replay to go live.
pub(super) struct PendingRebuild {
    requester: Requester,
    report: RebuildProgress,
    started: Instant,
    logged: Instant,
}

impl PendingRebuild {
    /// A rebuild whose replay goes through `total` events.
    pub(super) fn new(requester: Requester, total: u64, now: Instant) -> Self {
        Self {
            requester,
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
        if let Requester::Caller { progress, .. } = &self.requester {
            progress(report);
        }
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
    pub(super) fn finish(self, name: &str) -> Option<Ended> {
        let report = self.report;
        tracing::info!(
            projection = name,
            done = report.done,
            total = report.total,
            seconds = report.elapsed.as_secs_f64(),
            "rebuild finished"
        );
        match self.requester {
            Requester::Caller { reply, .. } => {
                let _ = reply.send(Ok(report));
                None
            }
            Requester::Request(request) => Some(Ended {
                request,
                outcome: Ok(format!(
                    "replayed {} events in {:.1} s",
                    report.done,
                    report.elapsed.as_secs_f64()
                )),
            }),
        }
    }

    /// The rebuild cannot finish here.
    pub(super) fn fail(self, error: RunnerError) -> Option<Ended> {
        match self.requester {
            Requester::Caller { reply, .. } => {
                let _ = reply.send(Err(error));
                None
            }
            Requester::Request(request) => Some(Ended {
                request,
                outcome: Err(error.to_string()),
            }),
        }
    }
}
