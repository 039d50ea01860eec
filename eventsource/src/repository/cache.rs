//! An in-process cache of aggregate states, so a command on an aggregate
//! this process touched recently skips the load.
//!
//! A cached state is only a guess at the stream's head: the append still
//! states the cached version as the expected one, so a write by another
//! process shows up as a version conflict, and the command is run again on
//! a state loaded from the store. A command the handler rejects (or that
//! produces no events) on a cached state is checked against the stream's
//! version before the answer is given, since no append would catch a stale
//! state there.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lru::LruCache;

/// The most recently used states of one aggregate type, by stream.
pub struct StateCache<A> {
    entries: Mutex<LruCache<Arc<str>, (A, u64)>>,
    clone: fn(&A) -> A,
}

impl<A> std::fmt::Debug for StateCache<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries = self.entries();
        f.debug_struct("StateCache")
            .field("len", &entries.len())
            .field("capacity", &entries.cap())
            .finish()
    }
}

impl<A: Clone> StateCache<A> {
    /// A cache of at most `capacity` aggregates (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
            clone: A::clone,
        }
    }
}

impl<A> StateCache<A> {
    // Nothing in the cache is left half-changed by a panic, so a poisoned
    // lock is still usable.
    fn entries(&self) -> MutexGuard<'_, LruCache<Arc<str>, (A, u64)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the state of `stream_id` out, with its version. Concurrent
    /// commands on the same aggregate in this process find nothing and load
    /// from the store.
    pub(super) fn take(&self, stream_id: &str) -> Option<(A, u64)> {
        self.entries().pop(stream_id)
    }

    /// Keeps a copy of `state` at `version`.
    pub(super) fn keep(&self, stream_id: &Arc<str>, state: &A, version: u64) {
        let copy = (self.clone)(state);
        self.put_back(stream_id, copy, version);
    }

    /// Puts a taken state back, unchanged.
    pub(super) fn put_back(&self, stream_id: &Arc<str>, state: A, version: u64) {
        let mut entries = self.entries();
        // A newer state put there by a concurrent command wins.
        if entries.peek(&**stream_id).is_none_or(|(_, v)| *v < version) {
            entries.put(stream_id.clone(), (state, version));
        }
    }

    /// How many aggregates are cached.
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every cached state.
    pub fn clear(&self) {
        self.entries().clear();
    }
}
