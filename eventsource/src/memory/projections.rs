//! Projection checkpoints, leases and (trivial) units of work in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
// Tokio's clock (through `Clock`), so that tests with paused time see
// leases expire.
use tokio::time::Instant;
use uuid::Uuid;

use crate::clock::Clock;
use crate::projection::{
    CommitError, ProjectionBackend, ProjectionCatalog, ProjectionTx, Registered, StoredLease,
    StoredProjection, StoredSlot, slot,
};
use crate::store::StoreError;

/// A [`ProjectionBackend`] for projections whose read model lives in the
/// process (handlers with no context). Cloning shares the same state.
#[derive(Clone, Debug)]
pub struct InMemoryProjectionBackend {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
    versions: Arc<Mutex<Versions>>,
    /// By slot: each member's heartbeat expiry (partitioned projections).
    members: Arc<Mutex<HashMap<String, HashMap<Uuid, Instant>>>>,
    clock: Clock,
}

impl Default for InMemoryProjectionBackend {
    fn default() -> Self {
        Self {
            entries: Arc::default(),
            versions: Arc::default(),
            members: Arc::default(),
            clock: Clock::current(),
        }
    }
}

/// By projection name and version: the events recorded, and whether the
/// version was activated.
type Versions = BTreeMap<String, BTreeMap<u32, (Vec<String>, bool)>>;

#[derive(Debug, Default)]
struct Entry {
    position: Option<u64>,
    lease: Option<(Uuid, Instant)>,
}

impl InMemoryProjectionBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Times leases with `clock` (by default the ambient clock when the
    /// backend was built: see [`Clock::current`]).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn versions(&self) -> MutexGuard<'_, Versions> {
        self.versions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The highest activated version among `versions`.
fn active(versions: Option<&BTreeMap<u32, (Vec<String>, bool)>>) -> Option<u32> {
    versions?
        .iter()
        .rev()
        .find(|(_, (_, activated))| *activated)
        .map(|(version, _)| *version)
}

#[async_trait]
impl ProjectionBackend<()> for InMemoryProjectionBackend {
    // An in-memory unit holds nothing another reader waits for, so there is
    // no limit to enforce.
    async fn begin(
        &self,
        _time_limit: std::time::Duration,
    ) -> Result<Box<dyn ProjectionTx<()>>, StoreError> {
        Ok(Box::new(MemoryTx {
            backend: self.clone(),
            unit: (),
            reset: None,
        }))
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.entries().get(name).and_then(|e| e.position))
    }

    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        let mut entries = self.entries();
        let entry = entries.entry(name.to_owned()).or_default();
        let now = self.clock.instant();
        let free = match entry.lease {
            None => true,
            Some((holder, until)) => holder == owner || until <= now,
        };
        if free {
            entry.lease = Some((owner, now + ttl));
        }
        Ok(free)
    }

    async fn renew(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        let mut entries = self.entries();
        let Some(entry) = entries.get_mut(name) else {
            return Ok(false);
        };
        let held = entry.lease.is_some_and(|(holder, _)| holder == owner);
        if held {
            entry.lease = Some((owner, self.clock.instant() + ttl));
        }
        Ok(held)
    }

    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
        if let Some(entry) = self.entries().get_mut(name) {
            if entry.lease.is_some_and(|(holder, _)| holder == owner) {
                entry.lease = None;
            }
        }
        Ok(())
    }

    async fn heartbeat(&self, slot: &str, member: Uuid, ttl: Duration) -> Result<u32, StoreError> {
        let now = self.clock.instant();
        let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = members.entry(slot.to_owned()).or_default();
        slot.retain(|_, until| *until > now);
        slot.insert(member, now + ttl);
        Ok(u32::try_from(slot.len()).unwrap_or(u32::MAX))
    }

    async fn leave(&self, slot: &str, member: Uuid) -> Result<(), StoreError> {
        let mut members = self.members.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = members.get_mut(slot) {
            slot.remove(&member);
        }
        Ok(())
    }

    async fn register(
        &self,
        name: &str,
        version: u32,
        events: &[String],
    ) -> Result<Registered, StoreError> {
        let mut all = self.versions();
        let versions = all.entry(name.to_owned()).or_default();
        let (recorded, _) = versions
            .entry(version)
            .or_insert_with(|| (events.to_vec(), false));
        Ok(Registered {
            events: recorded.clone(),
            active: active(Some(versions)),
        })
    }

    async fn forget(&self, name: &str, version: u32) -> Result<(), StoreError> {
        if let Some(versions) = self.versions().get_mut(name) {
            versions.remove(&version);
        }
        Ok(())
    }

    async fn active_version(&self, name: &str) -> Result<Option<u32>, StoreError> {
        Ok(active(self.versions().get(name)))
    }

    async fn activate(&self, name: &str, version: u32) -> Result<u32, StoreError> {
        let mut all = self.versions();
        let versions = all.entry(name.to_owned()).or_default();
        versions.entry(version).or_default().1 = true;
        Ok(active(Some(versions)).unwrap_or(version))
    }
}

#[async_trait]
impl ProjectionCatalog for InMemoryProjectionBackend {
    async fn projections(&self) -> Result<Vec<StoredProjection>, StoreError> {
        let versions: Vec<(String, u32, Vec<String>, Option<u32>)> = self
            .versions()
            .iter()
            .flat_map(|(name, versions)| {
                let active = active(Some(versions));
                versions.iter().map(move |(version, (events, _))| {
                    (name.clone(), *version, events.clone(), active)
                })
            })
            .collect();
        let entries = self.entries();
        let (now, instant) = (self.clock.now(), self.clock.instant());
        Ok(versions
            .into_iter()
            .map(|(name, version, events, active)| {
                let slot = slot(&name, version);
                let entry = entries.get(&slot);
                StoredProjection {
                    lease: entry
                        .and_then(|e| e.lease)
                        .map(|lease| stored_lease(lease, now, instant)),
                    checkpoint: entry.and_then(|e| e.position),
                    active: active == Some(version),
                    registered_at: None,
                    activated_at: None,
                    name,
                    version,
                    slot,
                    events,
                }
            })
            .collect())
    }

    async fn slot(&self, slot: &str) -> Result<StoredSlot, StoreError> {
        let entries = self.entries();
        let (now, instant) = (self.clock.now(), self.clock.instant());
        Ok(entries
            .get(slot)
            .map(|entry| StoredSlot {
                checkpoint: entry.position,
                lease: entry.lease.map(|lease| stored_lease(lease, now, instant)),
            })
            .unwrap_or_default())
    }
}

/// A lease held until the instant `until`, as a wall-clock time.
fn stored_lease(
    (owner, until): (Uuid, Instant),
    now: chrono::DateTime<chrono::Utc>,
    instant: Instant,
) -> StoredLease {
    StoredLease {
        owner,
        expires_at: match until.checked_duration_since(instant) {
            Some(left) => now + chrono::Duration::from_std(left).unwrap_or_default(),
            None => now - chrono::Duration::from_std(instant - until).unwrap_or_default(),
        },
    }
}

struct MemoryTx {
    backend: InMemoryProjectionBackend,
    unit: (),
    reset: Option<String>,
}

#[async_trait]
impl ProjectionTx<()> for MemoryTx {
    fn context(&mut self) -> &mut () {
        &mut self.unit
    }

    async fn reset_checkpoint(&mut self, name: &str) -> Result<(), StoreError> {
        self.reset = Some(name.to_owned());
        Ok(())
    }

    async fn commit(
        self: Box<Self>,
        name: &str,
        owner: Uuid,
        position: Option<u64>,
    ) -> Result<(), CommitError> {
        let mut entries = self.backend.entries();
        let entry = entries.entry(name.to_owned()).or_default();
        // Only the instance the lease was last granted to commits, as on
        // PostgreSQL: a lease released (or taken and released by another)
        // since this instance held it fences it out too.
        let fenced = !crate::mutation::enabled(crate::mutation::Mutation::UnfencedLease);
        if fenced && entry.lease.is_none_or(|(holder, _)| holder != owner) {
            return Err(CommitError::LeaseLost);
        }
        if self.reset.as_deref() == Some(name) {
            entry.position = None;
        }
        if let Some(position) = position {
            entry.position = Some(entry.position.map_or(position, |p| p.max(position)));
        }
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
