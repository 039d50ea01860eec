//! Control requests recorded for the whole of a partitioned version (its
//! slot without a partition), other than a rebuild: handed on to the slot
//! of each partition they concern, where whichever instance holds that
//! partition carries them out as for an unpartitioned projection.
//!
//! Recording one request per partition, rather than telling the workers of
//! this runner, is what reaches the partitions other instances hold, and
//! keeps a pause in force for a partition that changes hands later: its
//! new holder reads the pause from the partition's own slot when it starts.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::partitions::partition_slot;
use crate::clock::Clock;
use crate::projection::DeadLetterStore;
use crate::projection::control::{ControlCommand, ControlRequest, ControlStatus, ControlStore};
use crate::store::PartitionFilter;

/// How often the outcome of the partitions' requests is looked at.
const POLL: Duration = Duration::from_millis(100);

/// What handing a request on needs.
pub(super) struct Forward {
    pub(super) requests: Arc<dyn ControlStore>,
    pub(super) dead_letters: Arc<dyn DeadLetterStore>,
    /// The version's slot, as `name` or `name@v2`.
    pub(super) version_slot: String,
    pub(super) partitions: u32,
    /// This runner, recorded as the one that took the request up.
    pub(super) owner: Uuid,
    pub(super) clock: Clock,
    /// How long the partitions' holders have to carry their parts out
    /// before the request is reported as not carried out everywhere.
    pub(super) within: Duration,
}

impl Forward {
    /// Records `request`'s command for each partition it concerns, marks
    /// `request` running, and answers it (in a task of its own) once every
    /// partition's part is final or `within` has passed.
    pub(super) async fn hand_on(self, request: ControlRequest) {
        let targets = match self.targets(&request.command).await {
            Ok(targets) => targets,
            Err(outcome) => {
                self.answer(request.id, ControlStatus::Failed, &outcome)
                    .await;
                return;
            }
        };
        let mut parts = Vec::with_capacity(targets.len());
        for (index, slot) in &targets {
            match self
                .requests
                .request(slot, request.command, request.requested_by.as_deref())
                .await
            {
                Ok(part) => parts.push((*index, part.id)),
                Err(error) => {
                    let outcome = format!(
                        "handed to {} of {} partitions, then could not record it for partition {index}: {error}",
                        parts.len(),
                        targets.len()
                    );
                    self.answer(request.id, ControlStatus::Failed, &outcome)
                        .await;
                    return;
                }
            }
        }
        let outcome = format!("handed to {} partition(s)", parts.len());
        self.answer(request.id, ControlStatus::Running, &outcome)
            .await;
        tokio::spawn(async move {
            let (status, outcome) = self.outcome(&parts).await;
            self.answer(request.id, status, &outcome).await;
        });
    }

    /// The partitions (index and slot) `command` concerns: for a retry of
    /// one position, the partition that parked it; otherwise all of them.
    async fn targets(&self, command: &ControlCommand) -> Result<Vec<(u32, String)>, String> {
        let mut all = Vec::with_capacity(self.partitions as usize);
        for index in 0..self.partitions {
            let partition =
                PartitionFilter::new(index, self.partitions).map_err(|e| e.to_string())?;
            all.push((index, partition_slot(&self.version_slot, partition)));
        }
        let ControlCommand::Retry {
            position: Some(position),
        } = command
        else {
            return Ok(all);
        };
        let mut parked = Vec::new();
        for (index, slot) in all {
            let list =
                self.dead_letters.list(&slot).await.map_err(|e| {
                    format!("cannot read the parked events of partition {index}: {e}")
                })?;
            if list.iter().any(|p| p.global_position == *position) {
                parked.push((index, slot));
            }
        }
        if parked.is_empty() {
            return Err(format!(
                "no partition of `{}` has an event parked at position {position}",
                self.version_slot
            ));
        }
        Ok(parked)
    }

    /// Waits for the partitions' requests to be final: done when all are
    /// done, failed (saying which and why) otherwise.
    async fn outcome(&self, parts: &[(u32, Uuid)]) -> (ControlStatus, String) {
        let deadline = self.clock.instant() + self.within;
        let mut finals: Vec<Option<ControlRequest>> = vec![None; parts.len()];
        loop {
            for ((_, id), done) in parts.iter().zip(finals.iter_mut()) {
                if done.is_some() {
                    continue;
                }
                if let Ok(Some(part)) = self.requests.get(*id).await {
                    if part.status.is_final() {
                        *done = Some(part);
                    }
                }
            }
            if finals.iter().all(Option::is_some) || self.clock.instant() >= deadline {
                break;
            }
            self.clock.sleep(POLL).await;
        }
        let mut failed = Vec::new();
        let mut outcomes = Vec::new();
        for ((index, id), part) in parts.iter().zip(&finals) {
            match part {
                Some(part) if part.status == ControlStatus::Done => outcomes.push(format!(
                    "partition {index}: {}",
                    part.outcome.as_deref().unwrap_or("done")
                )),
                Some(part) => failed.push(format!(
                    "partition {index}: {} ({})",
                    part.status,
                    part.outcome.as_deref().unwrap_or("no reason given")
                )),
                None => failed.push(format!(
                    "partition {index}: not carried out within {:?}; request {id} stays pending for its holder",
                    self.within
                )),
            }
        }
        if failed.is_empty() {
            (ControlStatus::Done, outcomes.join("; "))
        } else {
            (
                ControlStatus::Failed,
                format!(
                    "{} of {} partition(s) did not carry it out: {}",
                    failed.len(),
                    parts.len(),
                    failed.join("; ")
                ),
            )
        }
    }

    async fn answer(&self, id: Uuid, status: ControlStatus, outcome: &str) {
        if let Err(error) = self
            .requests
            .finish(id, status, self.owner, Some(outcome))
            .await
        {
            tracing::warn!(slot = %self.version_slot, %error, request = %id, "cannot record the outcome of a control request");
        }
    }
}
