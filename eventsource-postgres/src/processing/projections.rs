//! Projections on PostgreSQL: checkpoints, leases and one transaction per
//! batch, shared by the read model and its checkpoint.
//!
//! A projection whose handlers take `ctx: &mut sqlx::PgConnection` writes its
//! read model through the batch's transaction; the runner commits the
//! checkpoint in the same transaction, so after a crash at any point the
//! read model and the checkpoint agree: no event is lost or applied twice.
//!
//! Leases let several instances of a program run the same projection: one
//! holds the lease (renewed by the runner), the others stand by and take
//! over once it lapses. Every commit first locks the lease row and checks
//! its owner, so an instance that lost its lease can neither move the
//! checkpoint nor commit read-model changes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::projection::{
    CommitError, ProjectionBackend, ProjectionCatalog, ProjectionTx, Registered, StoredLease,
    StoredProjection, StoredSlot,
};
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use crate::checkpoints::Checkpoints;
use crate::error::store_error;
use crate::schema::Identifier;
use crate::sql::Sql;

/// Takes the lease `$1` for owner `$2` for `$3` milliseconds when it is
/// free, expired, or already the owner's (a renewal).
const ACQUIRE_LEASE: &str = "\
INSERT INTO {schema}.projection_leases AS l (name, owner, expires_at)
VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
ON CONFLICT (name, tenant_id) DO UPDATE
SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at
WHERE l.owner = EXCLUDED.owner OR l.expires_at < clock_timestamp()
RETURNING owner";

/// Extends the lease `$1` of owner `$2` by `$3` milliseconds, if the row is
/// still the owner's: one released or taken by another since is not renewed.
const RENEW_LEASE: &str = "\
UPDATE {schema}.projection_leases
SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
WHERE name = $1 AND owner = $2
RETURNING owner";

const RELEASE_LEASE: &str = "DELETE FROM {schema}.projection_leases WHERE name = $1 AND owner = $2";

/// Locks the lease row until the commit, so no takeover can slip in between
/// this check and the commit.
const FENCE_LEASE: &str = "\
SELECT 1 FROM {schema}.projection_leases WHERE name = $1 AND owner = $2 FOR UPDATE";

/// Renews member `$2` of the partitioned slot `$1` for `$3` milliseconds,
/// forgets members expired for a while, and counts the live ones, this one
/// included (the statement's snapshot does not see its own insert, hence
/// the `+ 1`).
const HEARTBEAT: &str = "\
WITH beat AS (
    INSERT INTO {schema}.projection_members AS m (slot, member, expires_at)
    VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
    ON CONFLICT (slot, member) DO UPDATE SET expires_at = EXCLUDED.expires_at
    RETURNING member),
gone AS (
    DELETE FROM {schema}.projection_members
    WHERE slot = $1 AND member <> $2
        AND expires_at < clock_timestamp() - interval '1 hour')
SELECT 1 + count(*) FROM {schema}.projection_members
WHERE slot = $1 AND member <> $2 AND expires_at > clock_timestamp()";

const LEAVE: &str = "DELETE FROM {schema}.projection_members WHERE slot = $1 AND member = $2";

/// Records version `$2` of projection `$1` with its events `$3`, unless it
/// is recorded already; returns the events it was first recorded with and
/// the active version (the highest activated).
const REGISTER_VERSION: &str = "\
WITH recorded AS (
    INSERT INTO {schema}.projection_versions (name, version, event_names)
    VALUES ($1, $2, $3)
    ON CONFLICT (name, version, tenant_id) DO NOTHING
    RETURNING event_names)
SELECT coalesce((SELECT event_names FROM recorded),
        (SELECT event_names FROM {schema}.projection_versions WHERE name = $1 AND version = $2)),
    (SELECT max(version) FROM {schema}.projection_versions
        WHERE name = $1 AND activated_at IS NOT NULL)";

const FORGET_VERSION: &str =
    "DELETE FROM {schema}.projection_versions WHERE name = $1 AND version = $2";

const ACTIVE_VERSION: &str = "\
SELECT max(version) FROM {schema}.projection_versions
WHERE name = $1 AND activated_at IS NOT NULL";

/// Activates version `$2` of projection `$1` (once); returns the active version.
const ACTIVATE_VERSION: &str = "\
WITH activated AS (
    UPDATE {schema}.projection_versions SET activated_at = coalesce(activated_at, now())
    WHERE name = $1 AND version = $2
    RETURNING version)
SELECT greatest((SELECT version FROM activated),
    (SELECT max(version) FROM {schema}.projection_versions
        WHERE name = $1 AND activated_at IS NOT NULL))";

/// Every recorded version of every projection, with whether it is the
/// active one, its checkpoint and its lease (found under its slot: the name
/// for version 1, `name@vN` above).
const CATALOG: &str = "\
WITH v AS (
    SELECT name, version, event_names, registered_at, activated_at,
        CASE WHEN version = 1 THEN name ELSE name || '@v' || version END AS slot,
        max(version) FILTER (WHERE activated_at IS NOT NULL) OVER (PARTITION BY name) AS active
    FROM {schema}.projection_versions)
SELECT v.name, v.version, v.slot, v.event_names, v.registered_at, v.activated_at,
    v.version = v.active AS is_active, c.position, l.owner, l.expires_at
FROM v
LEFT JOIN {schema}.checkpoints c ON c.name = v.slot
LEFT JOIN {schema}.projection_leases l ON l.name = v.slot
ORDER BY v.name, v.version";

/// The checkpoint and lease recorded under slot `$1` (one partition's, for
/// operators): one row, with nulls for what is not recorded.
const SLOT: &str = "\
SELECT (SELECT position FROM {schema}.checkpoints WHERE name = $1) AS position,
    l.owner, l.expires_at
FROM (SELECT $1::text AS name) s
LEFT JOIN {schema}.projection_leases l ON l.name = s.name";

/// The statements of the projection backend.
#[derive(Debug)]
pub(crate) struct Statements {
    acquire_lease: Sql,
    renew_lease: Sql,
    release_lease: Sql,
    fence_lease: Sql,
    heartbeat: Sql,
    leave: Sql,
    register_version: Sql,
    forget_version: Sql,
    active_version: Sql,
    activate_version: Sql,
    catalog: Sql,
    slot: Sql,
}

impl Statements {
    pub(crate) fn new(schema: &Identifier) -> Self {
        Self {
            acquire_lease: Sql::new(ACQUIRE_LEASE, schema),
            renew_lease: Sql::new(RENEW_LEASE, schema),
            release_lease: Sql::new(RELEASE_LEASE, schema),
            fence_lease: Sql::new(FENCE_LEASE, schema),
            heartbeat: Sql::new(HEARTBEAT, schema),
            leave: Sql::new(LEAVE, schema),
            register_version: Sql::new(REGISTER_VERSION, schema),
            forget_version: Sql::new(FORGET_VERSION, schema),
            active_version: Sql::new(ACTIVE_VERSION, schema),
            activate_version: Sql::new(ACTIVATE_VERSION, schema),
            catalog: Sql::new(CATALOG, schema),
            slot: Sql::new(SLOT, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn all(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("acquire_lease", &self.acquire_lease),
            ("renew_lease", &self.renew_lease),
            ("release_lease", &self.release_lease),
            ("fence_lease", &self.fence_lease),
            ("heartbeat", &self.heartbeat),
            ("leave", &self.leave),
            ("register_version", &self.register_version),
            ("forget_version", &self.forget_version),
            ("active_version", &self.active_version),
            ("activate_version", &self.activate_version),
            ("projection_catalog", &self.catalog),
            ("projection_slot", &self.slot),
        ]
    }
}

/// A [`ProjectionBackend`] on PostgreSQL, for projections whose handlers take
/// `&mut PgConnection` (transactional read models in the same database) or
/// no context at all (read models elsewhere; checkpoints are still kept
/// here, committed after each batch).
///
/// ```no_run
/// use eventsource::prelude::*;
/// use eventsource_postgres::PgEventStore;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug)]
/// #[event(name = "docs.Registered")]
/// struct Registered { email: String }
///
/// struct Emails;
///
/// #[projection(name = "docs.emails")]
/// impl Emails {
///     async fn on_registered(
///         &mut self,
///         e: &Registered,
///         ctx: &mut sqlx::PgConnection,
///     ) -> Result<(), sqlx::Error> {
///         sqlx::query("INSERT INTO emails (email) VALUES ($1)")
///             .bind(&e.email)
///             .execute(ctx)
///             .await?;
///         Ok(())
///     }
/// }
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = PgEventStore::connect("postgres://localhost/app").await?;
/// store.migrate().await?;
/// let runner = ProjectionRunner::new(store.clone())?.with_dead_letters(store.dead_letters());
/// runner.start(Emails, store.projection_backend()).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PgProjectionBackend {
    pool: PgPool,
    checkpoints: Arc<Checkpoints>,
    sql: Arc<Statements>,
}

impl PgProjectionBackend {
    pub(crate) fn new(pool: PgPool, checkpoints: Arc<Checkpoints>, sql: Arc<Statements>) -> Self {
        Self {
            pool,
            checkpoints,
            sql,
        }
    }

    /// Begins a transaction the server ends if it stays idle, or one of its
    /// statements runs, longer than `time_limit`.
    ///
    /// An open transaction that holds a transaction id holds back the read
    /// horizon of every subscriber of the database (see the crate docs), so
    /// a frozen owner (SIGSTOP, a debugger, a handler blocked on I/O inside
    /// the transaction) would stall them all, and its standby too. Bounded
    /// by the lease TTL, the server ends such a transaction about when the
    /// lease expires, and everyone moves on. `SET LOCAL` keeps both limits to
    /// this transaction; they travel with `BEGIN` in one round trip.
    async fn begin_tx(&self, time_limit: Duration) -> Result<PgProjectionTx, StoreError> {
        let millis = time_limit.as_millis().clamp(1, i32::MAX as u128);
        let begin = format!(
            "BEGIN; SET LOCAL idle_in_transaction_session_timeout = {millis}; \
             SET LOCAL statement_timeout = {millis}"
        );
        let tx = self
            .pool
            .begin_with(AssertSqlSafe(begin))
            .await
            .map_err(store_error)?;
        Ok(PgProjectionTx {
            tx,
            unit: (),
            checkpoints: self.checkpoints.clone(),
            sql: self.sql.clone(),
        })
    }

    async fn acquire_lease(
        &self,
        name: &str,
        owner: Uuid,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let row = sqlx::query(self.sql.acquire_lease.get())
            .bind(name)
            .bind(owner)
            .bind(millis as f64)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(row.is_some())
    }

    async fn renew_lease(
        &self,
        name: &str,
        owner: Uuid,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let renewed = sqlx::query(self.sql.renew_lease.get())
            .bind(name)
            .bind(owner)
            .bind(millis as f64)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(renewed.is_some())
    }

    async fn release_lease(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
        sqlx::query(self.sql.release_lease.get())
            .bind(name)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn beat(&self, slot: &str, member: Uuid, ttl: Duration) -> Result<u32, StoreError> {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        let row = sqlx::query(self.sql.heartbeat.get())
            .bind(slot)
            .bind(member)
            .bind(millis as f64)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let live: i64 = row.try_get(0).map_err(store_error)?;
        Ok(u32::try_from(live).unwrap_or(u32::MAX).max(1))
    }

    async fn leave_slot(&self, slot: &str, member: Uuid) -> Result<(), StoreError> {
        sqlx::query(self.sql.leave.get())
            .bind(slot)
            .bind(member)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn register_version(
        &self,
        name: &str,
        version: u32,
        events: &[String],
    ) -> Result<Registered, StoreError> {
        let row = sqlx::query(self.sql.register_version.get())
            .bind(name)
            .bind(version_i32(version)?)
            .bind(events)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let events: Option<Vec<String>> = row.try_get(0).map_err(store_error)?;
        let active: Option<i32> = row.try_get(1).map_err(store_error)?;
        Ok(Registered {
            events: events.unwrap_or_default(),
            active: active.and_then(|v| u32::try_from(v).ok()),
        })
    }

    async fn forget_version(&self, name: &str, version: u32) -> Result<(), StoreError> {
        sqlx::query(self.sql.forget_version.get())
            .bind(name)
            .bind(version_i32(version)?)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn active_version_of(&self, name: &str) -> Result<Option<u32>, StoreError> {
        let active: Option<i32> = sqlx::query_scalar(self.sql.active_version.get())
            .bind(name)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(active.and_then(|v| u32::try_from(v).ok()))
    }

    async fn activate_version(&self, name: &str, version: u32) -> Result<u32, StoreError> {
        let active: Option<i32> = sqlx::query_scalar(self.sql.activate_version.get())
            .bind(name)
            .bind(version_i32(version)?)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(active
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(version))
    }
}

#[async_trait]
impl ProjectionCatalog for PgProjectionBackend {
    async fn projections(&self) -> Result<Vec<StoredProjection>, StoreError> {
        let rows = sqlx::query(self.sql.catalog.get())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get("name").map_err(store_error)?;
                let version: i32 = row.try_get("version").map_err(store_error)?;
                let version = u32::try_from(version).map_err(|_| {
                    StoreError::Backend(
                        format!("projection `{name}` has a negative version ({version})").into(),
                    )
                })?;
                let checkpoint: Option<i64> = row.try_get("position").map_err(store_error)?;
                let owner: Option<Uuid> = row.try_get("owner").map_err(store_error)?;
                let expires_at: Option<chrono::DateTime<chrono::Utc>> =
                    row.try_get("expires_at").map_err(store_error)?;
                Ok(StoredProjection {
                    version,
                    slot: row.try_get("slot").map_err(store_error)?,
                    events: row.try_get("event_names").map_err(store_error)?,
                    active: row
                        .try_get::<Option<bool>, _>("is_active")
                        .map_err(store_error)?
                        .unwrap_or(false),
                    registered_at: row.try_get("registered_at").map_err(store_error)?,
                    activated_at: row.try_get("activated_at").map_err(store_error)?,
                    checkpoint: checkpoint.and_then(|c| u64::try_from(c).ok()),
                    lease: owner
                        .zip(expires_at)
                        .map(|(owner, expires_at)| StoredLease { owner, expires_at }),
                    name,
                })
            })
            .collect()
    }

    async fn slot(&self, slot: &str) -> Result<StoredSlot, StoreError> {
        let row = sqlx::query(self.sql.slot.get())
            .bind(slot)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        let checkpoint: Option<i64> = row.try_get("position").map_err(store_error)?;
        let owner: Option<Uuid> = row.try_get("owner").map_err(store_error)?;
        let expires_at: Option<chrono::DateTime<chrono::Utc>> =
            row.try_get("expires_at").map_err(store_error)?;
        Ok(StoredSlot {
            checkpoint: checkpoint.and_then(|c| u64::try_from(c).ok()),
            lease: owner
                .zip(expires_at)
                .map(|(owner, expires_at)| StoredLease { owner, expires_at }),
        })
    }
}

/// A projection version as PostgreSQL's `integer`.
fn version_i32(version: u32) -> Result<i32, StoreError> {
    i32::try_from(version).map_err(|_| {
        StoreError::invalid(format!(
            "projection version {version} is above {}",
            i32::MAX
        ))
    })
}

/// One batch's transaction.
pub struct PgProjectionTx {
    tx: Transaction<'static, Postgres>,
    unit: (),
    checkpoints: Arc<Checkpoints>,
    sql: Arc<Statements>,
}

impl std::fmt::Debug for PgProjectionTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgProjectionTx").finish_non_exhaustive()
    }
}

impl PgProjectionTx {
    async fn reset(&mut self, name: &str) -> Result<(), StoreError> {
        self.checkpoints.reset_in(&mut self.tx, name).await
    }

    async fn finish(
        mut self,
        name: &str,
        owner: Uuid,
        position: Option<u64>,
    ) -> Result<(), CommitError> {
        let held = sqlx::query(self.sql.fence_lease.get())
            .bind(name)
            .bind(owner)
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(store_error)?;
        if held.is_none() {
            // Dropping the transaction rolls the batch back.
            return Err(CommitError::LeaseLost);
        }
        if let Some(position) = position {
            self.checkpoints
                .save_in(&mut self.tx, name, position)
                .await?;
        }
        self.tx.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn abort(self) -> Result<(), StoreError> {
        self.tx.rollback().await.map_err(store_error)
    }
}

/// Implements the backend and its transaction for one context type.
macro_rules! backend_for {
    ($context:ty, |$tx:ident| $borrow:expr) => {
        #[async_trait]
        impl ProjectionBackend<$context> for PgProjectionBackend {
            async fn begin(
                &self,
                time_limit: Duration,
            ) -> Result<Box<dyn ProjectionTx<$context>>, StoreError> {
                Ok(Box::new(self.begin_tx(time_limit).await?))
            }

            async fn checkpoint(&self, name: &str) -> Result<Option<u64>, StoreError> {
                self.checkpoints.load(name).await
            }

            async fn acquire(
                &self,
                name: &str,
                owner: Uuid,
                ttl: Duration,
            ) -> Result<bool, StoreError> {
                self.acquire_lease(name, owner, ttl).await
            }

            async fn renew(
                &self,
                name: &str,
                owner: Uuid,
                ttl: Duration,
            ) -> Result<bool, StoreError> {
                self.renew_lease(name, owner, ttl).await
            }

            async fn release(&self, name: &str, owner: Uuid) -> Result<(), StoreError> {
                self.release_lease(name, owner).await
            }

            async fn heartbeat(
                &self,
                slot: &str,
                member: Uuid,
                ttl: Duration,
            ) -> Result<u32, StoreError> {
                self.beat(slot, member, ttl).await
            }

            async fn leave(&self, slot: &str, member: Uuid) -> Result<(), StoreError> {
                self.leave_slot(slot, member).await
            }

            async fn register(
                &self,
                name: &str,
                version: u32,
                events: &[String],
            ) -> Result<Registered, StoreError> {
                self.register_version(name, version, events).await
            }

            async fn forget(&self, name: &str, version: u32) -> Result<(), StoreError> {
                self.forget_version(name, version).await
            }

            async fn active_version(&self, name: &str) -> Result<Option<u32>, StoreError> {
                self.active_version_of(name).await
            }

            async fn activate(&self, name: &str, version: u32) -> Result<u32, StoreError> {
                self.activate_version(name, version).await
            }
        }

        #[async_trait]
        impl ProjectionTx<$context> for PgProjectionTx {
            fn context(&mut self) -> &mut $context {
                let $tx = self;
                $borrow
            }

            async fn reset_checkpoint(&mut self, name: &str) -> Result<(), StoreError> {
                self.reset(name).await
            }

            async fn commit(
                self: Box<Self>,
                name: &str,
                owner: Uuid,
                position: Option<u64>,
            ) -> Result<(), CommitError> {
                self.finish(name, owner, position).await
            }

            async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
                self.abort().await
            }
        }
    };
}

backend_for!(PgConnection, |tx| &mut *tx.tx);
backend_for!((), |tx| &mut tx.unit);
