//! Where subjects' keys live, behind a trait so that a key management
//! service can take the place of the stores' key tables.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::cipher::SubjectKey;
use crate::store::StoreError;

/// The keys of subjects, one each; forgetting a subject destroys its key
/// for good and remembers that it was forgotten.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The key of `subject`, storing `fresh` as its key if it has none yet.
    /// A forgotten subject is refused with [`StoreError::SubjectForgotten`].
    async fn key_for_append(
        &self,
        subject: &str,
        fresh: SubjectKey,
    ) -> Result<SubjectKey, StoreError>;

    /// The key of `subject`; `None` when it has none (forgotten, or never
    /// written).
    async fn key(&self, subject: &str) -> Result<Option<SubjectKey>, StoreError>;

    /// Destroys the key of `subject`; `true` if it had one.
    async fn forget(&self, subject: &str) -> Result<bool, StoreError>;
}

/// Keys in memory, for tests and the in-memory store. Clones share them.
#[derive(Clone, Debug, Default)]
pub struct InMemoryKeyStore {
    /// `None`: forgotten.
    keys: Arc<Mutex<HashMap<String, Option<SubjectKey>>>>,
}

impl InMemoryKeyStore {
    /// An empty key store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl KeyStore for InMemoryKeyStore {
    async fn key_for_append(
        &self,
        subject: &str,
        fresh: SubjectKey,
    ) -> Result<SubjectKey, StoreError> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        match keys.entry(subject.to_owned()).or_insert(Some(fresh)) {
            Some(key) => Ok(*key),
            None => Err(StoreError::SubjectForgotten {
                subject: subject.into(),
            }),
        }
    }

    async fn key(&self, subject: &str) -> Result<Option<SubjectKey>, StoreError> {
        let keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.get(subject).copied().flatten())
    }

    async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(keys.insert(subject.to_owned(), None).flatten().is_some())
    }
}
