//! The archive job: a policy applied, batch by batch, with progress.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::error::ArchiveError;
use super::policy::ArchivePolicy;
use crate::clock::Clock;
use crate::store::{EventStore, IntoEventStore, StreamQuery};

/// Streams listed per query.
const LIST_PAGE: usize = 1000;

/// What the job is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArchivePhase {
    /// Listing the streams of the policy's type.
    Listing,
    /// Loading aggregates to ask whether they are closed.
    Checking,
    /// Moving events into the archive.
    Moving,
    /// Finished.
    Done,
}

/// How far the job is, as handed to its progress callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveProgress {
    /// What it is doing.
    pub phase: ArchivePhase,
    /// Streams to go through in this phase (known once listed).
    pub streams_total: u64,
    /// Streams gone through in this phase.
    pub streams_done: u64,
    /// Events moved so far.
    pub events_moved: u64,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArchiveReport {
    /// Streams of the type whose last event is old enough.
    pub streams_matched: u64,
    /// Of those, streams skipped because their aggregate is not closed.
    pub streams_open: u64,
    /// Streams that had events moved now.
    pub streams_archived: u64,
    /// Streams with nothing left to move (archived before, or one event).
    pub streams_unchanged: u64,
    /// Events moved now.
    pub events_moved: u64,
    /// The time a stream's last event had to be older than.
    pub cutoff: Option<DateTime<Utc>>,
}

/// Applies an [`ArchivePolicy`] to a store.
///
/// Holds no state between runs: a run after a crash moves what the crashed
/// run left (see the module docs).
#[derive(Clone)]
pub struct ArchiveJob {
    store: Arc<dyn EventStore>,
    policy: ArchivePolicy,
    clock: Clock,
}

impl std::fmt::Debug for ArchiveJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArchiveJob")
            .field("policy", &self.policy)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl ArchiveJob {
    /// A job applying `policy` to `store`.
    pub fn new(store: impl IntoEventStore, policy: ArchivePolicy) -> Self {
        Self {
            store: store.into_event_store(),
            policy,
            clock: Clock::current(),
        }
    }

    /// Measures the age of streams by `clock` (default: the ambient clock).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs the policy once, calling `progress` after each step.
    ///
    /// Errors: [`ArchiveError::NothingMatches`] when no stream matches the
    /// policy (nothing is done), [`ArchiveError::InvalidPolicy`] for a
    /// closed check of another aggregate type, and the store's errors (a
    /// failed batch is rolled back whole; run again to go on).
    pub async fn run(
        &self,
        mut progress: impl FnMut(&ArchiveProgress) + Send,
    ) -> Result<ArchiveReport, ArchiveError> {
        let policy = &self.policy;
        if let Some(check) = &policy.closed {
            if check.aggregate_type() != policy.aggregate_type {
                return Err(ArchiveError::InvalidPolicy(format!(
                    "the policy archives `{}` but asks aggregates of `{}` whether they are closed",
                    policy.aggregate_type,
                    check.aggregate_type()
                )));
            }
        }
        let age = chrono::Duration::from_std(policy.older_than).map_err(|_| {
            ArchiveError::InvalidPolicy(format!("an age of {:?} is too long", policy.older_than))
        })?;
        let cutoff = self.clock.now() - age;
        let mut report = ArchiveReport {
            cutoff: Some(cutoff),
            ..ArchiveReport::default()
        };
        let mut at = ArchiveProgress {
            phase: ArchivePhase::Listing,
            streams_total: 0,
            streams_done: 0,
            events_moved: 0,
        };
        progress(&at);
        let mut candidates = self.list(cutoff, &mut at, &mut progress).await?;
        report.streams_matched = candidates.len() as u64;
        if candidates.is_empty() {
            return Err(ArchiveError::NothingMatches {
                aggregate_type: policy.aggregate_type.clone(),
                older_than_secs: policy.older_than.as_secs(),
                closed_only: policy.closed.is_some(),
            });
        }
        if let Some(check) = &policy.closed {
            at.phase = ArchivePhase::Checking;
            at.streams_total = candidates.len() as u64;
            at.streams_done = 0;
            let mut closed = Vec::with_capacity(candidates.len());
            for (stream_id, version) in candidates {
                let is_closed =
                    check
                        .is_closed(&stream_id)
                        .await
                        .map_err(|source| ArchiveError::Load {
                            stream_id: stream_id.clone(),
                            source: Box::new(source),
                        })?;
                if is_closed {
                    closed.push((stream_id, version));
                } else {
                    report.streams_open += 1;
                }
                at.streams_done += 1;
                progress(&at);
            }
            candidates = closed;
            if candidates.is_empty() {
                return Err(ArchiveError::NothingMatches {
                    aggregate_type: policy.aggregate_type.clone(),
                    older_than_secs: policy.older_than.as_secs(),
                    closed_only: true,
                });
            }
        }
        at.phase = ArchivePhase::Moving;
        at.streams_total = candidates.len() as u64;
        at.streams_done = 0;
        progress(&at);
        // A stream of one event has nothing but its last: no transaction for it.
        let (single, movable): (Vec<_>, Vec<_>) =
            candidates.into_iter().partition(|(_, v)| *v <= 1);
        report.streams_unchanged += single.len() as u64;
        at.streams_done += single.len() as u64;
        for batch in movable.chunks(policy.batch_streams) {
            let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
            let moved = self.store.archive_streams(&ids).await?;
            for stream in &moved {
                if stream.moved > 0 {
                    report.streams_archived += 1;
                } else {
                    report.streams_unchanged += 1;
                }
                report.events_moved += stream.moved;
            }
            at.streams_done += batch.len() as u64;
            at.events_moved = report.events_moved;
            progress(&at);
            if !policy.pause.is_zero() {
                self.clock.sleep(policy.pause).await;
            }
        }
        at.phase = ArchivePhase::Done;
        progress(&at);
        tracing::info!(
            aggregate_type = %policy.aggregate_type,
            streams = report.streams_matched,
            archived = report.streams_archived,
            events = report.events_moved,
            "archive policy applied"
        );
        Ok(report)
    }

    /// The streams of the policy's type whose last event is at or before
    /// `cutoff`, with their versions.
    async fn list(
        &self,
        cutoff: DateTime<Utc>,
        at: &mut ArchiveProgress,
        progress: &mut (impl FnMut(&ArchiveProgress) + Send),
    ) -> Result<Vec<(String, u64)>, ArchiveError> {
        let mut found = Vec::new();
        let mut query =
            StreamQuery::new(LIST_PAGE).with_aggregate_type(&self.policy.aggregate_type);
        loop {
            let page = self.store.streams(&query).await?;
            let full = page.len() == LIST_PAGE;
            let Some(last) = page.last() else {
                break;
            };
            query = query.after(last.stream_id.clone());
            at.streams_done += page.len() as u64;
            found.extend(
                page.into_iter()
                    .filter(|s| s.last_recorded_at <= cutoff)
                    .map(|s| (s.stream_id, s.version)),
            );
            progress(at);
            if !full {
                break;
            }
        }
        Ok(found)
    }
}
