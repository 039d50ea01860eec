//! Conjoined multi-tenancy: every tenant in one schema, each row naming its
//! tenant, PostgreSQL's row-level security confining each connection to
//! one tenant.
//!
//! Migration 12 gives every tenant-owned table (events, snapshots,
//! checkpoints, leases, projection versions and controls, dead letters,
//! saga instances and deadlines, subject keys) a `tenant_id` column whose
//! default is the session's setting `eventsource.tenant`, and puts the
//! tenant into every unique key (last, so lookups by the old key keep their
//! index). A schema becomes conjoined only by the explicit step
//! [`PgConjoined::install`], which adds policies (forced, so they bind the
//! tables' owner too) that let a session see and touch only its tenant's
//! rows; [`PgConjoined::new`] refuses a schema without them. [`PgConjoined`] hands out one [`PgEventStore`] per tenant whose
//! connections all start with that setting, so every statement of the
//! store — reads, subscriptions, appends, snapshots, checkpoints, dead
//! letters, sagas, deadlines, keys, operations, deletes — is confined by
//! the database itself, without a tenant predicate in the store's SQL.
//! The store adds its own checks in front: appends stamp the tenant on
//! each event's metadata (header [`TENANT_HEADER`]) and refuse a batch that
//! names another.
//!
//! Reading across tenants is a separate capability, [`PgAcrossTenants`]:
//! its connections also set `eventsource.all_tenants`, which the events
//! table's read policy honours (and no other table's, nor any write).
//!
//! Row-level security does not bind superusers nor roles with `BYPASSRLS`,
//! so [`PgConjoined::new`] refuses to run as one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use eventsource::store::{AppendResult, CheckpointStore, EventFilter, EventStream, Subscription};
use eventsource::{EventStore, ExpectedVersion, NewEvent, RecordedEvent, StoreError};
use futures::StreamExt;
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use thiserror::Error;

use crate::conjoin;
use crate::error::store_error;
use crate::options::PgStoreOptions;
use crate::processing::{PgControlStore, PgDeadLetterStore, PgProjectionBackend};
use crate::scope::{ACROSS_TENANTS, ALL_TENANTS_SETTING, DEFAULT_TENANT, Scope, TENANT_SETTING};
use crate::store::PgEventStore;
use crate::tenant_id::{TENANT_HEADER, TenantError, TenantId};

/// Why [`PgConjoined`] refused to start.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConjoinedError {
    /// The pool's role is exempt from row-level security, which is what
    /// keeps tenants apart.
    #[error(
        "role `{role}` bypasses row-level security (a superuser or a BYPASSRLS role): \
         conjoined tenants need a role the policies bind, such as the tables' owner"
    )]
    BypassesRowSecurity {
        /// The role the pool connects as.
        role: String,
    },
    /// The schema has not been made conjoined ([`PgConjoined::install`]):
    /// without its policies, nothing would keep tenants apart.
    #[error(
        "schema `{schema}` is not conjoined: row-level security policies missing ({}); \
         run PgConjoined::install on it first",
        missing.join(", ")
    )]
    NotConjoined {
        /// The schema.
        schema: String,
        /// The missing policies, as `table.policy`.
        missing: Vec<String>,
    },
    /// The database could not be asked.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every tenant in one schema: a [`PgEventStore`] per tenant, confined to
/// its tenant's rows by row-level security, and a separate cross-tenant
/// reader.
///
/// Each tenant's store has a small pool of its own (built from the given
/// pool's connection settings), whose connections set the tenant when they
/// connect: a connection never changes tenant, so no statement can run
/// under the wrong one. Pools are made on first use and kept; idle
/// connections close after a minute.
///
/// ```no_run
/// use eventsource::prelude::*;
/// use eventsource_postgres::{PgConjoined, PgStoreOptions, TenantId};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// // A role the policies bind: not a superuser, not BYPASSRLS.
/// let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
/// let options = PgStoreOptions::new("shop")?;
/// // Once per schema (idempotent): migrations, then the policies.
/// PgConjoined::install(&pool, &options).await?;
/// let tenants = PgConjoined::new(pool, options).await?;
///
/// let acme = tenants.tenant(&TenantId::parse("acme")?)?;
/// let placed = NewEvent::new("shop.OrderPlaced", 1, r#"{"total":42}"#, Metadata::new());
/// acme.append("order-1", "shop.Order", ExpectedVersion::NoStream, vec![placed]).await?;
///
/// let globex = tenants.tenant(&TenantId::parse("globex")?)?;
/// assert_eq!(globex.stream_version("order-1").await?, None);
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PgConjoined {
    pool: PgPool,
    options: PgStoreOptions,
    pool_size: u32,
    stores: Arc<Mutex<BTreeMap<TenantId, PgEventStore>>>,
    across: Arc<Mutex<Option<PgAcrossTenants>>>,
}

impl PgConjoined {
    /// Makes the schema of `options` conjoined: applies the missing
    /// migrations, then enables and forces row-level security on every
    /// tenant-owned table with the policies that confine a session to its
    /// tenant. Idempotent: a second run
    /// replaces the policies with the same ones in one transaction. Run it
    /// as the tables' owner (or a superuser). Returns the migrations
    /// applied.
    ///
    /// From then on every statement of every role the policies bind pays
    /// for them, tenant stores or not; rows written without a tenant stay
    /// the `default` tenant's.
    pub async fn install(pool: &PgPool, options: &PgStoreOptions) -> Result<Vec<i32>, StoreError> {
        let applied = PgEventStore::with_options(pool.clone(), options.clone())
            .migrate()
            .await?;
        conjoin::install(pool, options.schema()).await?;
        Ok(applied)
    }

    /// Tenants in the schema of `options`, connecting like `pool` (which
    /// also serves [`PgConjoined::migrate`]). Refuses a pool whose role
    /// row-level security does not bind, and a schema that
    /// [`PgConjoined::install`] has not made conjoined.
    pub async fn new(pool: PgPool, options: PgStoreOptions) -> Result<Self, ConjoinedError> {
        let (role, exempt): (String, bool) = sqlx::query_as(
            "SELECT current_user::text, rolsuper OR rolbypassrls \
             FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&pool)
        .await
        .map_err(store_error)?;
        if exempt {
            return Err(ConjoinedError::BypassesRowSecurity { role });
        }
        let missing = conjoin::missing(&pool, options.schema()).await?;
        if !missing.is_empty() {
            return Err(ConjoinedError::NotConjoined {
                schema: options.schema().as_str().to_owned(),
                missing,
            });
        }
        Ok(Self {
            pool,
            options,
            pool_size: 4,
            stores: Arc::default(),
            across: Arc::default(),
        })
    }

    /// The most connections each tenant's pool opens (default 4).
    #[must_use]
    pub fn with_pool_size(mut self, connections: u32) -> Self {
        self.pool_size = connections.max(1);
        self
    }

    /// Applies the missing migrations (see [`PgEventStore::migrate`]);
    /// rows already stored belong to the default tenant. (The schema is
    /// conjoined already: [`PgConjoined::new`] checked.)
    pub async fn migrate(&self) -> Result<Vec<i32>, StoreError> {
        PgEventStore::with_options(self.pool.clone(), self.options.clone())
            .migrate()
            .await
    }

    /// The store of `tenant`: everything it reads, subscribes to, appends,
    /// projects, deletes or lists is that tenant's.
    pub fn tenant(&self, tenant: &TenantId) -> Result<PgEventStore, StoreError> {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = stores.get(tenant) {
            return Ok(store.clone());
        }
        let pool = self.scoped_pool(tenant.as_str(), false);
        let options = self
            .options
            .clone()
            .with_scope(Scope::Tenant(tenant.clone()));
        let store = PgEventStore::with_options(pool, options);
        stores.insert(tenant.clone(), store.clone());
        Ok(store)
    }

    /// Forgets the store of `tenant` and closes its pool (waiting for its
    /// connections to be handed back): for a tenant that went quiet, to
    /// bound the connections kept. Its data stays; a later
    /// [`PgConjoined::tenant`] makes a new pool. Whether there was one.
    pub async fn release(&self, tenant: &TenantId) -> bool {
        let released = self
            .stores
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(tenant);
        match released {
            Some(store) => {
                store.pool().close().await;
                true
            }
            None => false,
        }
    }

    /// The reader of every tenant's events, for projections across
    /// tenants: see [`PgAcrossTenants`].
    pub fn across_tenants(&self) -> PgAcrossTenants {
        let mut across = self.across.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = &*across {
            return store.clone();
        }
        let pool = self.scoped_pool(ACROSS_TENANTS, true);
        let options = self.options.clone().with_scope(Scope::AllTenants);
        let store = PgAcrossTenants {
            store: PgEventStore::with_options(pool, options),
        };
        *across = Some(store.clone());
        store
    }

    /// A pool whose connections start in `tenant` (and, when `all`, may
    /// read every tenant's events). The settings travel in the startup
    /// packet, so a connection is never out of its tenant, not even for
    /// its first statement.
    fn scoped_pool(&self, tenant: &str, all: bool) -> PgPool {
        let connect: PgConnectOptions = (*self.pool.connect_options()).clone().options([
            (TENANT_SETTING, tenant),
            (ALL_TENANTS_SETTING, if all { "on" } else { "off" }),
        ]);
        crate::nodelay::pool_options(self.pool_size)
            .min_connections(0)
            .idle_timeout(Some(Duration::from_secs(60)))
            .connect_lazy_with(connect)
    }
}

/// Every tenant's events, in the one global order, for projections across
/// tenants.
///
/// Reads only: `read_all`, `subscribe`, `count_events` and `head_position`
/// see every tenant's events; everything that names a stream (whose id
/// only means something within a tenant) and every append is refused with
/// [`StoreError::Unsupported`] or [`StoreError::Invalid`]. Its own rows —
/// checkpoints, leases, dead letters of the projections it runs — belong
/// to none of the tenants. Each event names its tenant in its metadata;
/// [`PgAcrossTenants::tenant_of`] reads it.
#[derive(Clone, Debug)]
pub struct PgAcrossTenants {
    store: PgEventStore,
}

impl PgAcrossTenants {
    /// The tenant `event` belongs to: the tenant header its store stamped
    /// (and the events table's policy checked), or the default tenant for
    /// events written by stores that know nothing of tenants.
    pub fn tenant_of(event: &RecordedEvent) -> Result<TenantId, TenantError> {
        match event.metadata.headers.get(TENANT_HEADER) {
            Some(tenant) => TenantId::parse(tenant),
            None => TenantId::parse(DEFAULT_TENANT),
        }
    }

    /// The projection backend (checkpoints, leases, versions) of
    /// cross-tenant projections.
    pub fn projection_backend(&self) -> PgProjectionBackend {
        self.store.projection_backend()
    }

    /// The dead letters of cross-tenant projections.
    pub fn dead_letters(&self) -> PgDeadLetterStore {
        self.store.dead_letters()
    }

    /// The control store of cross-tenant projections.
    pub fn control_store(&self) -> PgControlStore {
        self.store.control_store()
    }

    /// The schema holding the tables.
    pub fn schema(&self) -> &str {
        self.store.schema()
    }
}

fn per_tenant(operation: &'static str) -> StoreError {
    StoreError::Unsupported { operation }
}

#[async_trait]
impl EventStore for PgAcrossTenants {
    async fn append(
        &self,
        _stream_id: &str,
        _aggregate_type: &str,
        _expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        Scope::AllTenants.stamp(&events, |_| Ok(()))?;
        Err(per_tenant("appends across tenants"))
    }

    fn read_stream(&self, _stream_id: &str, _from_version: u64) -> EventStream {
        futures::stream::once(async { Err(per_tenant("stream reads across tenants")) }).boxed()
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        self.store.read_all(from_position, filter)
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        self.store.subscribe(from_position, filter)
    }

    async fn stream_version(&self, _stream_id: &str) -> Result<Option<u64>, StoreError> {
        Err(per_tenant("stream versions across tenants"))
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        self.store.head_position().await
    }

    async fn streams(
        &self,
        _query: &eventsource::store::StreamQuery,
    ) -> Result<Vec<eventsource::store::StreamSummary>, StoreError> {
        Err(per_tenant("stream listings across tenants"))
    }

    async fn count_events(
        &self,
        from_position: u64,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        self.store.count_events(from_position, filter).await
    }
}

#[async_trait]
impl CheckpointStore for PgAcrossTenants {
    async fn load(&self, name: &str) -> Result<Option<u64>, StoreError> {
        CheckpointStore::load(&self.store, name).await
    }

    async fn save(&self, name: &str, position: u64) -> Result<(), StoreError> {
        CheckpointStore::save(&self.store, name, position).await
    }

    async fn reset(&self, name: &str) -> Result<(), StoreError> {
        CheckpointStore::reset(&self.store, name).await
    }
}
