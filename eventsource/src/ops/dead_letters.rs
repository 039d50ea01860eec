//! Parked events across every projection: list, show, retry, skip.

use serde::Serialize;

use super::{Operations, OpsError, ProjectionInfo};
use crate::projection::{ControlCommand, ControlRequest, ParkedEvent, SkippedEvent};

/// A parked event, and the version of the projection it is parked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    /// The projection's name.
    pub name: String,
    /// Its version.
    pub version: u32,
    /// The event as parked, with the reason.
    #[serde(flatten)]
    pub parked: ParkedEvent,
}

impl Operations {
    /// The events parked for projection `name` (as [`Operations::projection`]
    /// resolves it), or for every projection and saga.
    pub async fn dead_letters(&self, name: Option<&str>) -> Result<Vec<DeadLetter>, OpsError> {
        let infos = match name {
            Some(name) => vec![self.projection(name).await?],
            None => self.projections().await?,
        };
        let mut letters = Vec::new();
        for info in infos {
            for slot in slots(&info) {
                for parked in self.dead_letters.list(slot).await? {
                    letters.push(DeadLetter {
                        name: info.name.clone(),
                        version: info.version,
                        parked,
                    });
                }
            }
        }
        Ok(letters)
    }

    /// The event parked for projection `name` at `position`.
    pub async fn dead_letter(&self, name: &str, position: u64) -> Result<DeadLetter, OpsError> {
        self.dead_letters(Some(name))
            .await?
            .into_iter()
            .find(|d| d.parked.global_position == position)
            .ok_or_else(|| {
                OpsError::NotFound(format!("a parked event of `{name}` at position {position}"))
            })
    }

    /// Asks the owner of projection `name` to run its parked event at
    /// `position` again (or every parked event); wait for the outcome with
    /// [`Operations::await_request`].
    pub async fn retry(
        &self,
        name: &str,
        position: Option<u64>,
        requested_by: Option<&str>,
    ) -> Result<ControlRequest, OpsError> {
        if let Some(position) = position {
            self.dead_letter(name, position).await?;
        }
        self.request(name, ControlCommand::Retry { position }, requested_by)
            .await
    }

    /// Skips the event parked for projection `name` at `position`: it is
    /// not run again, and is kept with `reason` among the skipped ones.
    pub async fn skip(
        &self,
        name: &str,
        position: u64,
        reason: &str,
        skipped_by: Option<&str>,
    ) -> Result<DeadLetter, OpsError> {
        if reason.trim().is_empty() {
            return Err(OpsError::Invalid(
                "a skip needs a reason, kept with the event".to_owned(),
            ));
        }
        let letter = self.dead_letter(name, position).await?;
        let skipped = self
            .dead_letters
            .skip(
                &letter.parked.projection,
                position,
                reason,
                skipped_by,
                self.clock.now(),
            )
            .await?;
        if !skipped {
            return Err(OpsError::NotFound(format!(
                "a parked event of `{name}` at position {position}"
            )));
        }
        Ok(letter)
    }

    /// The events skipped for projection `name`.
    pub async fn skipped(&self, name: &str) -> Result<Vec<SkippedEvent>, OpsError> {
        let info = self.projection(name).await?;
        let mut skipped = Vec::new();
        for slot in slots(&info) {
            skipped.extend(self.dead_letters.skipped(slot).await?);
        }
        Ok(skipped)
    }
}

/// Where a version's events are parked: its slot, and each partition's
/// when it is partitioned (each partition parks under its own slot).
fn slots(info: &ProjectionInfo) -> impl Iterator<Item = &str> {
    std::iter::once(info.slot.as_str()).chain(info.partitions.iter().map(|p| p.slot.as_str()))
}
