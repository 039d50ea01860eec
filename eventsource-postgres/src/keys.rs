//! The subjects' keys of crypto-shredding in the `subject_keys` table.

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::shredding::{KeyStore, SubjectKey};
use sqlx::{PgPool, Row};

use crate::error::store_error;
use crate::schema::Identifier;
use crate::sql::Sql;

/// Stores `$2` as the key of subject `$1` unless it has a row already, and
/// returns the row's key (`NULL`: forgotten). No row comes back when a
/// concurrent transaction inserted the subject after this statement's
/// snapshot was taken; [`KEY`] then finds it.
const KEY_FOR_APPEND: &str = "\
WITH ins AS (
    INSERT INTO {schema}.subject_keys (subject, key) VALUES ($1, $2)
    ON CONFLICT (subject, tenant_id) DO NOTHING
    RETURNING key
)
SELECT key FROM ins
UNION ALL
SELECT key FROM {schema}.subject_keys WHERE subject = $1 AND NOT EXISTS (SELECT 1 FROM ins)";

/// The key of subject `$1`; `NULL` when forgotten, no row when unknown.
const KEY: &str = "SELECT key FROM {schema}.subject_keys WHERE subject = $1";

/// Forgets subject `$1`: its key is cleared (or a row records a subject
/// forgotten before it had one). Returns whether a key was cleared.
const FORGET: &str = "\
WITH old AS (
    SELECT key FROM {schema}.subject_keys WHERE subject = $1 FOR UPDATE
), upsert AS (
    INSERT INTO {schema}.subject_keys AS k (subject, key, forgotten_at)
    VALUES ($1, NULL, clock_timestamp())
    ON CONFLICT (subject, tenant_id) DO UPDATE
        SET key = NULL, forgotten_at = COALESCE(k.forgotten_at, clock_timestamp())
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM old WHERE key IS NOT NULL), (SELECT count(*) FROM upsert)";

/// A [`KeyStore`] in the store's schema (`PgEventStore::key_store`).
#[derive(Clone, Debug)]
pub struct PgKeyStore {
    pool: PgPool,
    key_for_append: Sql,
    key: Sql,
    forget: Sql,
}

impl PgKeyStore {
    pub(crate) fn new(pool: PgPool, schema: &Identifier) -> Self {
        Self {
            pool,
            key_for_append: Sql::new(KEY_FOR_APPEND, schema),
            key: Sql::new(KEY, schema),
            forget: Sql::new(FORGET, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn statements(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("key_for_append", &self.key_for_append),
            ("key", &self.key),
            ("forget", &self.forget),
        ]
    }
}

/// A stored key as a subject key: a row whose key is not 32 bytes is corrupt.
fn to_key(subject: &str, bytes: Vec<u8>) -> Result<SubjectKey, StoreError> {
    SubjectKey::try_from(bytes.as_slice()).map_err(|_| {
        StoreError::Backend(
            format!(
                "the key of subject `{subject}` is {} bytes, not 32",
                bytes.len()
            )
            .into(),
        )
    })
}

#[async_trait]
impl KeyStore for PgKeyStore {
    async fn key_for_append(
        &self,
        subject: &str,
        fresh: SubjectKey,
    ) -> Result<SubjectKey, StoreError> {
        let row = sqlx::query(self.key_for_append.get())
            .bind(subject)
            .bind(fresh.as_slice())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        let stored: Option<Vec<u8>> = match row {
            Some(row) => row.try_get(0).map_err(store_error)?,
            None => sqlx::query(self.key.get())
                .bind(subject)
                .fetch_optional(&self.pool)
                .await
                .map_err(store_error)?
                .map(|row| row.try_get(0))
                .transpose()
                .map_err(store_error)?
                .flatten(),
        };
        match stored {
            Some(bytes) => to_key(subject, bytes),
            None => Err(StoreError::SubjectForgotten {
                subject: subject.into(),
            }),
        }
    }

    async fn key(&self, subject: &str) -> Result<Option<SubjectKey>, StoreError> {
        let row = sqlx::query(self.key.get())
            .bind(subject)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let bytes: Option<Vec<u8>> = row.try_get(0).map_err(store_error)?;
        bytes.map(|b| to_key(subject, b)).transpose()
    }

    async fn forget(&self, subject: &str) -> Result<bool, StoreError> {
        let row = sqlx::query(self.forget.get())
            .bind(subject)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        row.try_get(0).map_err(store_error)
    }
}
