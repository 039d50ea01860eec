//! Projections and sagas as the store sees them, across processes, and
//! their control.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use serde::Serialize;
use uuid::Uuid;

use super::{Operations, OpsError};
use crate::projection::{
    ControlCommand, ControlRequest, ControlStatus, StoredLease, StoredProjection, StoredSlot,
    partition_slot, recorded_partitions, slot,
};
use crate::store::{EventFilter, PartitionFilter};

/// A read model or a process manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionKind {
    /// A `#[projection]`.
    Projection,
    /// A `#[saga]` (run as a projection of its name).
    Saga,
}

/// What a projection version is doing, as far as the store shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProjectionPhase {
    /// An instance holds the lease and has handled every event.
    Live,
    /// An instance holds the lease and has events left to handle.
    CatchingUp,
    /// Paused by an operator.
    Paused,
    /// A rebuild requested by an operator is replaying.
    Rebuilding,
    /// No instance holds an unexpired lease.
    Stopped,
    /// A newer version is active.
    Retired,
    /// This program has it, but the store has no record of it running.
    NeverRun,
}

impl ProjectionPhase {
    /// The phase as shown.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::CatchingUp => "catching up",
            Self::Paused => "paused",
            Self::Rebuilding => "rebuilding",
            Self::Stopped => "stopped",
            Self::Retired => "retired",
            Self::NeverRun => "never run",
        }
    }
}

/// A rebuild in progress: replayed so far, of how many.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RebuildState {
    /// The control request that asked for it.
    pub request: Uuid,
    /// Events replayed.
    pub done: u64,
    /// Events to replay (as of now).
    pub total: u64,
}

/// One version of a projection or saga: state, checkpoint, lag, owner.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProjectionInfo {
    /// Its name.
    pub name: String,
    /// The version.
    pub version: u32,
    /// Where the version keeps its checkpoint, lease and parked events.
    pub slot: String,
    /// A projection or a saga.
    pub kind: ProjectionKind,
    /// Whether queries read this version.
    pub active: bool,
    /// What it is doing.
    pub phase: ProjectionPhase,
    /// Its committed checkpoint.
    pub checkpoint: Option<u64>,
    /// The head of the log.
    pub head: u64,
    /// Events it handles after its checkpoint.
    pub lag: u64,
    /// How long the oldest of those has waited, in seconds (0 when none).
    pub lag_seconds: f64,
    /// The runner instance holding its lease, if unexpired.
    pub owner: Option<Uuid>,
    /// When that lease lapses unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Events parked in the dead-letter store.
    pub parked: u64,
    /// Whether this program has it (else only the store knows it).
    pub in_program: bool,
    /// The events it handles.
    pub events: Vec<String>,
    /// A rebuild in progress.
    pub rebuild: Option<RebuildState>,
    /// Each partition of a partitioned version, in order (empty when it is
    /// not partitioned). The version's own figures fold them: the lowest
    /// checkpoint, the summed lag and parked events, the longest wait, and
    /// the owner of a held partition (the owner of them all when one runner
    /// holds every held one; none when none is held).
    pub partitions: Vec<PartitionInfo>,
}

/// One partition of a partitioned version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionInfo {
    /// Its number, from 0.
    pub index: u32,
    /// How many partitions the version has.
    pub count: u32,
    /// Where it keeps its checkpoint, lease and parked events (`name#p3/8`).
    pub slot: String,
    /// Its committed checkpoint.
    pub checkpoint: Option<u64>,
    /// Events of its streams after its checkpoint.
    pub lag: u64,
    /// How long the oldest of those has waited, in seconds (0 when none).
    pub lag_seconds: f64,
    /// The runner instance holding its lease, if unexpired.
    pub owner: Option<Uuid>,
    /// When that lease lapses unless renewed.
    pub lease_expires_at: Option<DateTime<Utc>>,
    /// Its events parked in the dead-letter store.
    pub parked: u64,
}

/// Until when [`Operations::await_request`] waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// An owner took the request up (running, or already final).
    Taken,
    /// The request is final: done, failed or cancelled.
    Final,
}

/// What one version is, before its state is read.
struct Entry {
    name: String,
    version: u32,
    events: Vec<String>,
    stored: Option<StoredProjection>,
    in_program: bool,
    /// The active version of the projection, as the store says.
    active_version: Option<u32>,
}

impl Operations {
    /// Every version of every projection and saga this program has or the
    /// store knows, by name and version.
    pub async fn projections(&self) -> Result<Vec<ProjectionInfo>, OpsError> {
        let head = self.store.head_position().await?;
        let mut infos = Vec::new();
        for entry in self.entries().await? {
            infos.push(self.info(entry, head).await?);
        }
        Ok(infos)
    }

    /// One version: `name@vN`, or `name` for its active version (or, when
    /// none is active, its highest).
    pub async fn projection(&self, name: &str) -> Result<ProjectionInfo, OpsError> {
        let head = self.store.head_position().await?;
        let entry = self.resolve(name).await?;
        self.info(entry, head).await
    }

    /// Records `command` for projection `name` (as [`Operations::projection`]
    /// resolves it), for its owner to carry out.
    pub async fn request(
        &self,
        name: &str,
        command: ControlCommand,
        requested_by: Option<&str>,
    ) -> Result<ControlRequest, OpsError> {
        let entry = self.resolve(name).await?;
        let slot = slot(&entry.name, entry.version);
        Ok(self.control.request(&slot, command, requested_by).await?)
    }

    /// Waits up to `timeout` for request `id` to be taken up or final, as
    /// `until` says. A failed request is [`OpsError::Refused`]; on timeout a
    /// one-shot request still pending is cancelled, and the error is
    /// [`OpsError::Timeout`].
    pub async fn await_request(
        &self,
        id: Uuid,
        until: Until,
        timeout: Duration,
    ) -> Result<ControlRequest, OpsError> {
        let deadline = self.clock.instant() + timeout;
        let mut changes = self.control.watch();
        loop {
            let request = self
                .control
                .get(id)
                .await?
                .ok_or_else(|| OpsError::NotFound(format!("control request {id}")))?;
            match request.status {
                ControlStatus::Failed => {
                    return Err(OpsError::Refused {
                        request: Box::new(request),
                    });
                }
                ControlStatus::Cancelled => return Err(OpsError::Cancelled(id)),
                ControlStatus::Done => return Ok(request),
                ControlStatus::Running if until == Until::Taken => return Ok(request),
                _ => {}
            }
            let now = self.clock.instant();
            if now >= deadline {
                let mut request = request;
                if request.status == ControlStatus::Pending
                    && !request.command.is_pause_state()
                    && self.control.cancel(id).await?
                {
                    request.status = ControlStatus::Cancelled;
                }
                return Err(OpsError::Timeout {
                    request: Box::new(request),
                });
            }
            // Woken by the store where it can; polled in any case.
            let poll = (deadline - now).min(Duration::from_millis(200));
            match &mut changes {
                Some(changes) => {
                    let _ = self.clock.timeout(poll, changes.changed()).await;
                }
                None => self.clock.sleep(poll).await,
            }
        }
    }

    /// The recent control requests, for one projection (as
    /// [`Operations::projection`] resolves it) or all.
    pub async fn requests(
        &self,
        name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ControlRequest>, OpsError> {
        let slot = match name {
            Some(name) => {
                let entry = self.resolve(name).await?;
                Some(slot(&entry.name, entry.version))
            }
            None => None,
        };
        Ok(self.control.history(slot.as_deref(), limit).await?)
    }

    /// The names of the sagas this program has.
    pub(super) fn saga_names(&self) -> Vec<&'static str> {
        self.registry.parts().sagas.iter().map(|s| s.name).collect()
    }

    /// Every version known to the program or the store.
    async fn entries(&self) -> Result<Vec<Entry>, OpsError> {
        let mut entries: BTreeMap<(String, u32), Entry> = BTreeMap::new();
        let parts = self.registry.parts();
        let ours = parts
            .projections
            .iter()
            .map(|p| (p.name, p.version, p.events))
            .chain(parts.sagas.iter().map(|s| (s.name, 1, s.events)));
        for (name, version, events) in ours {
            entries.insert(
                (name.to_owned(), version),
                Entry {
                    name: name.to_owned(),
                    version,
                    events: events.iter().map(|e| (*e).to_owned()).collect(),
                    stored: None,
                    in_program: true,
                    active_version: None,
                },
            );
        }
        for catalog in &self.catalogs {
            for stored in catalog.projections().await? {
                let entry = entries
                    .entry((stored.name.clone(), stored.version))
                    .or_insert_with(|| Entry {
                        name: stored.name.clone(),
                        version: stored.version,
                        events: stored.events.clone(),
                        stored: None,
                        in_program: false,
                        active_version: None,
                    });
                entry.stored = Some(stored);
            }
        }
        let active: BTreeMap<String, u32> = entries
            .values()
            .filter(|e| e.stored.as_ref().is_some_and(|s| s.active))
            .map(|e| (e.name.clone(), e.version))
            .collect();
        Ok(entries
            .into_values()
            .map(|mut e| {
                e.active_version = active.get(&e.name).copied();
                e
            })
            .collect())
    }

    async fn resolve(&self, name: &str) -> Result<Entry, OpsError> {
        let entries = self.entries().await?;
        let (base, version) = match name.rsplit_once("@v") {
            Some((base, v)) => match v.parse::<u32>() {
                Ok(v) => (base, Some(v)),
                Err(_) => (name, None),
            },
            None => (name, None),
        };
        let known: Vec<String> = {
            let mut names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
            names.dedup();
            names
        };
        let mut matching: Vec<Entry> = entries
            .into_iter()
            .filter(|e| e.name == base && version.is_none_or(|v| v == e.version))
            .collect();
        let pick = matching
            .iter()
            .position(|e| e.stored.as_ref().is_some_and(|s| s.active))
            .or_else(|| matching.len().checked_sub(1));
        match pick {
            Some(at) => Ok(matching.swap_remove(at)),
            None => Err(OpsError::UnknownProjection {
                name: name.to_owned(),
                known,
            }),
        }
    }

    /// The filter of the events a version handles, aliases included.
    pub(super) fn filter_of(&self, events: &[String]) -> EventFilter {
        let mut names: Vec<String> = Vec::new();
        for name in events {
            names.push(name.clone());
            if let Some(event) = self.registry.event(name) {
                names.extend(event.aliases.iter().map(|a| (*a).to_owned()));
            }
        }
        EventFilter::all().with_event_names(names)
    }

    async fn info(&self, entry: Entry, head: u64) -> Result<ProjectionInfo, OpsError> {
        let slot = slot(&entry.name, entry.version);
        let stored = entry.stored.as_ref();
        let (count, _) = recorded_partitions(stored.map_or(&entry.events, |s| &s.events));
        let (_, events) = recorded_partitions(&entry.events);
        let filter = self.filter_of(&events);
        let now = self.clock.now();
        let partitions = if count > 1 {
            self.partitions(&slot, count, &filter).await?
        } else {
            Vec::new()
        };
        let (checkpoint, lag, lag_seconds, lease, parked) = if partitions.is_empty() {
            let checkpoint = stored.and_then(|s| s.checkpoint);
            let (lag, lag_seconds) = self.lag(checkpoint, &filter).await?;
            let lease = stored
                .and_then(|s| s.lease.clone())
                .filter(|l| l.expires_at > now);
            let parked = self.dead_letters.count(&slot).await?;
            (checkpoint, lag, lag_seconds, lease, parked)
        } else {
            fold(&partitions)
        };
        let paused = self.control.paused(&slot).await?;
        let rebuilding = self
            .control
            .history(Some(&slot), 20)
            .await?
            .into_iter()
            .find(|r| r.command == ControlCommand::Rebuild && r.status == ControlStatus::Running);
        let rebuild = match rebuilding {
            Some(request) => {
                let total = self.store.count_events(1, filter).await?;
                Some(RebuildState {
                    request: request.id,
                    done: total.saturating_sub(lag),
                    total,
                })
            }
            None => None,
        };
        let newer_active = entry.active_version.is_some_and(|a| a > entry.version);
        let phase = if stored.is_none() {
            ProjectionPhase::NeverRun
        } else if newer_active {
            ProjectionPhase::Retired
        } else if rebuild.is_some() {
            ProjectionPhase::Rebuilding
        } else if paused {
            ProjectionPhase::Paused
        } else if lease.is_none() {
            ProjectionPhase::Stopped
        } else if lag == 0 {
            ProjectionPhase::Live
        } else {
            ProjectionPhase::CatchingUp
        };
        let kind = if self.saga_names().contains(&entry.name.as_str()) {
            ProjectionKind::Saga
        } else {
            ProjectionKind::Projection
        };
        Ok(ProjectionInfo {
            active: stored.is_some_and(|s| s.active),
            name: entry.name,
            version: entry.version,
            slot,
            kind,
            phase,
            checkpoint,
            head,
            lag,
            lag_seconds,
            owner: lease.as_ref().map(|l| l.owner),
            lease_expires_at: lease.map(|l| l.expires_at),
            parked,
            in_program: entry.in_program,
            events,
            rebuild,
            partitions,
        })
    }

    /// Events `filter` takes after `checkpoint`, and how long the oldest
    /// has waited, in seconds.
    async fn lag(
        &self,
        checkpoint: Option<u64>,
        filter: &EventFilter,
    ) -> Result<(u64, f64), OpsError> {
        let from = checkpoint.map_or(1, |c| c + 1);
        let lag = self.store.count_events(from, filter.clone()).await?;
        if lag == 0 {
            return Ok((0, 0.0));
        }
        let mut pending = self.store.read_all(from, filter.clone());
        let seconds = match pending.try_next().await? {
            Some(oldest) => {
                (self.clock.now() - oldest.recorded_at)
                    .num_milliseconds()
                    .max(0) as f64
                    / 1e3
            }
            None => 0.0,
        };
        Ok((lag, seconds))
    }

    /// Each of the `count` partitions of the version at `slot`, from the
    /// first catalog that recorded anything of it.
    async fn partitions(
        &self,
        slot: &str,
        count: u32,
        filter: &EventFilter,
    ) -> Result<Vec<PartitionInfo>, OpsError> {
        let now = self.clock.now();
        let mut partitions = Vec::with_capacity(count as usize);
        for index in 0..count {
            let partition = PartitionFilter::new(index, count)
                .map_err(|e| OpsError::Store(crate::store::StoreError::invalid(e.to_string())))?;
            let at = partition_slot(slot, partition);
            let mut stored = StoredSlot::default();
            for catalog in &self.catalogs {
                let found = catalog.slot(&at).await?;
                if found.checkpoint.is_some() || found.lease.is_some() {
                    stored = found;
                    break;
                }
            }
            let filter = filter.clone().with_partition(partition);
            let (lag, lag_seconds) = self.lag(stored.checkpoint, &filter).await?;
            let lease = stored.lease.filter(|l| l.expires_at > now);
            partitions.push(PartitionInfo {
                index,
                count,
                checkpoint: stored.checkpoint,
                lag,
                lag_seconds,
                owner: lease.as_ref().map(|l| l.owner),
                lease_expires_at: lease.map(|l| l.expires_at),
                parked: self.dead_letters.count(&at).await?,
                slot: at,
            });
        }
        Ok(partitions)
    }
}

/// A partitioned version's figures, folded from its partitions': the
/// lowest checkpoint (`None` while one has none), the summed lag and
/// parked events, the longest wait, and a lease when one runner holds
/// every partition (the soonest to lapse) or, when several do, the first
/// one held; none when no partition is held.
fn fold(parts: &[PartitionInfo]) -> (Option<u64>, u64, f64, Option<StoredLease>, u64) {
    let checkpoint = parts
        .iter()
        .try_fold(u64::MAX, |low, p| p.checkpoint.map(|c| low.min(c)));
    let lag = parts.iter().map(|p| p.lag).sum();
    let lag_seconds = parts.iter().map(|p| p.lag_seconds).fold(0.0, f64::max);
    let parked = parts.iter().map(|p| p.parked).sum();
    let held: Vec<StoredLease> = parts
        .iter()
        .filter_map(|p| {
            p.owner
                .zip(p.lease_expires_at)
                .map(|(owner, expires_at)| StoredLease { owner, expires_at })
        })
        .collect();
    let lease = match held.first() {
        Some(first) if held.iter().all(|l| l.owner == first.owner) => {
            held.iter().min_by_key(|l| l.expires_at).cloned()
        }
        Some(first) => Some(first.clone()),
        None => None,
    };
    (checkpoint, lag, lag_seconds, lease, parked)
}
