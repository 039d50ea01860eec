//! Projection backends under faults, and the fencing oracle that watches
//! which instance commits while which one holds the lease.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::projection::{CommitError, ProjectionBackend, ProjectionTx, Registered};
use uuid::Uuid;

use crate::faults::Faults;

/// Who took each lease last, as the backend granted it, and every commit
/// made by an instance that was not that one.
#[derive(Clone, Debug, Default)]
pub struct Fencing {
    inner: Arc<Mutex<FencingState>>,
}

#[derive(Debug, Default)]
struct FencingState {
    holders: BTreeMap<String, Uuid>,
    violations: Vec<String>,
    commits: u64,
}

impl Fencing {
    fn lock(&self) -> MutexGuard<'_, FencingState> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn acquired(&self, name: &str, owner: Uuid) {
        self.lock().holders.insert(name.to_owned(), owner);
    }

    fn committed(&self, name: &str, owner: Uuid, position: Option<u64>) {
        let mut state = self.lock();
        state.commits += 1;
        let holder = state.holders.get(name).copied();
        if holder != Some(owner) {
            let message = format!(
                "fencing: {owner} committed `{name}` at {position:?} while the lease was {holder:?}'s"
            );
            state.violations.push(message);
        }
    }

    /// The commits made without the lease.
    pub fn violations(&self) -> Vec<String> {
        self.lock().violations.clone()
    }

    /// How many commits went through.
    pub fn commits(&self) -> u64 {
        self.lock().commits
    }
}

/// A [`ProjectionBackend`] passing units of work, checkpoints and leases
/// of `inner` through [`Faults`], and reporting leases and commits to a
/// [`Fencing`] oracle. Registration and versions pass untouched.
#[derive(Clone, Debug)]
pub struct FaultyBackend<B> {
    inner: B,
    faults: Faults,
    fencing: Fencing,
}

impl<B> FaultyBackend<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, faults: Faults, fencing: Fencing) -> Self {
        Self {
            inner,
            faults,
            fencing,
        }
    }
}

#[async_trait]
impl<C, B> ProjectionBackend<C> for FaultyBackend<B>
where
    C: ?Sized + Send + 'static,
    B: ProjectionBackend<C>,
{
    async fn begin(&self, time_limit: Duration) -> Result<Box<dyn ProjectionTx<C>>, StoreError> {
        self.faults.before("begin").await?;
        let inner = self.inner.begin(time_limit).await?;
        Ok(Box::new(FaultyTx {
            inner,
            faults: self.faults.clone(),
            fencing: self.fencing.clone(),
        }))
    }

    async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.faults.before("checkpoint").await?;
        self.inner.checkpoint(name).await
    }

    async fn acquire(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        self.faults.before("acquire").await?;
        let taken = self.inner.acquire(name, owner, ttl).await?;
        if taken {
            self.fencing.acquired(name, owner);
        }
        self.faults
            .record(format_args!("acquire {name} {owner} {taken}"));
        self.faults.after("acquire").await?;
        Ok(taken)
    }

    async fn renew(&self, name: &str, owner: Uuid, ttl: Duration) -> Result<bool, StoreError> {
        self.faults.before("renew").await?;
        let renewed = self.inner.renew(name, owner, ttl).await?;
        self.faults
            .record(format_args!("renew {name} {owner} {renewed}"));
        self.faults.after("renew").await?;
        Ok(renewed)
    }

    async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
        self.faults.before("release").await?;
        self.faults.record(format_args!("release {name} {owner}"));
        self.inner.release(name, owner).await
    }

    async fn register(
        &self,
        name: &str,
        version: u32,
        events: &[String],
    ) -> Result<Registered, StoreError> {
        self.inner.register(name, version, events).await
    }

    async fn forget(&self, name: &str, version: u32) -> Result<(), StoreError> {
        self.inner.forget(name, version).await
    }

    async fn active_version(&self, name: &str) -> Result<Option<u32>, StoreError> {
        self.inner.active_version(name).await
    }

    async fn activate(&self, name: &str, version: u32) -> Result<u32, StoreError> {
        self.inner.activate(name, version).await
    }
}

struct FaultyTx<C: ?Sized + Send> {
    inner: Box<dyn ProjectionTx<C>>,
    faults: Faults,
    fencing: Fencing,
}

#[async_trait]
impl<C: ?Sized + Send + 'static> ProjectionTx<C> for FaultyTx<C> {
    fn context(&mut self) -> &mut C {
        self.inner.context()
    }

    async fn reset_checkpoint(&mut self, name: &str) -> Result<(), StoreError> {
        self.faults.before("reset_checkpoint").await?;
        self.inner.reset_checkpoint(name).await
    }

    async fn commit(
        self: Box<Self>,
        name: &str,
        owner: Uuid,
        position: Option<u64>,
    ) -> Result<(), CommitError> {
        let Self {
            inner,
            faults,
            fencing,
        } = *self;
        if let Err(error) = faults.before("commit").await {
            let _ = inner.rollback().await;
            return Err(error.into());
        }
        inner.commit(name, owner, position).await?;
        fencing.committed(name, owner, position);
        faults.record(format_args!("commit {name} {position:?} {owner}"));
        faults.after("commit").await?;
        Ok(())
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.inner.rollback().await
    }
}
