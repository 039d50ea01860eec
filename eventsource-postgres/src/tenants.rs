//! Schema-per-tenant multi-tenancy: every tenant's events, snapshots,
//! checkpoints, dead letters, sagas and read models live in a schema of its
//! own (`<prefix><tenant>`), and each tenant gets a [`PgEventStore`] of that
//! schema, all sharing one connection pool.
//!
//! Isolation comes from the schema: a tenant's store names only its own
//! schema in every statement (see `sql.rs`), so nothing it reads,
//! subscribes to, appends or projects can reach another tenant's tables.
//! Tenant ids are validated before they become part of a schema name, and a
//! command whose metadata names another tenant than the bus it is sent to is
//! refused by [`TenantGuard`] before anything is loaded.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use eventsource::command::{CommandInfo, CommandInterceptor};
use eventsource::{BoxError, Metadata, StoreError};
use sqlx::PgPool;

use crate::options::PgStoreOptions;
use crate::schema::Identifier;
use crate::store::PgEventStore;
use crate::tenant_id::{TENANT_HEADER, TenantError, TenantId};

/// Finds the tenant of a request from its metadata.
pub trait TenantResolver: Send + Sync + 'static {
    /// The tenant `metadata` belongs to.
    fn resolve(&self, metadata: &Metadata) -> Result<TenantId, TenantError>;
}

/// Resolves the tenant from the [`TENANT_HEADER`] header.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeaderTenantResolver;

impl TenantResolver for HeaderTenantResolver {
    fn resolve(&self, metadata: &Metadata) -> Result<TenantId, TenantError> {
        match metadata.headers.get(TENANT_HEADER) {
            Some(value) => TenantId::parse(value),
            None => Err(TenantError::Missing),
        }
    }
}

/// A command interceptor for one tenant's bus: stamps the tenant on a
/// command's metadata (so every event and every saga command it causes
/// carries it) and refuses a command whose metadata names another tenant.
#[derive(Clone, Debug)]
pub struct TenantGuard {
    tenant: TenantId,
}

impl TenantGuard {
    /// The guard of `tenant`'s bus.
    pub fn new(tenant: TenantId) -> Self {
        Self { tenant }
    }
}

#[async_trait]
impl CommandInterceptor for TenantGuard {
    fn name(&self) -> &'static str {
        "tenant"
    }

    async fn before(
        &self,
        _command: &CommandInfo<'_>,
        metadata: &mut Metadata,
    ) -> Result<(), BoxError> {
        match metadata.headers.get(TENANT_HEADER) {
            Some(claimed) if claimed != self.tenant.as_str() => {
                Err(Box::new(TenantError::OtherTenant {
                    claimed: claimed.clone(),
                    serves: self.tenant.to_string(),
                }))
            }
            Some(_) => Ok(()),
            None => {
                metadata
                    .headers
                    .insert(TENANT_HEADER.to_owned(), self.tenant.to_string());
                Ok(())
            }
        }
    }
}

/// The stores of every tenant, one schema each, from one pool.
#[derive(Clone, Debug)]
pub struct PgTenants {
    pool: PgPool,
    prefix: String,
    configure: fn(PgStoreOptions) -> PgStoreOptions,
    stores: Arc<Mutex<BTreeMap<TenantId, PgEventStore>>>,
}

impl PgTenants {
    /// Tenants in schemas named `<prefix><tenant>` on `pool`. The prefix is
    /// lower-case letters, digits and `_`, starting with a letter, at most
    /// 20 bytes (so every schema name fits PostgreSQL's 63). Choose one no
    /// other schema of the database starts with (`tenant_`, say):
    /// [`PgTenants::existing`] takes every schema it begins as a tenant's.
    pub fn new(pool: PgPool, prefix: &str) -> Result<Self, TenantError> {
        let valid = prefix.len() <= 20
            && prefix.starts_with(|c: char| c.is_ascii_lowercase())
            && prefix
                .bytes()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_'))
            && !prefix.starts_with("pg_");
        if !valid {
            return Err(TenantError::InvalidPrefix(prefix.to_owned()));
        }
        Ok(Self {
            pool,
            prefix: prefix.to_owned(),
            configure: |options| options,
            stores: Arc::default(),
        })
    }

    /// Adjusts the options of every tenant's store (same for all).
    #[must_use]
    pub fn with_options(mut self, configure: fn(PgStoreOptions) -> PgStoreOptions) -> Self {
        self.configure = configure;
        self
    }

    /// The schema of `tenant`.
    pub fn schema_of(&self, tenant: &TenantId) -> String {
        format!("{}{}", self.prefix, tenant)
    }

    /// The store of `tenant` (built once, then shared; not migrated: see
    /// [`PgTenants::migrate`]).
    pub fn store(&self, tenant: &TenantId) -> Result<PgEventStore, StoreError> {
        let mut stores = self.stores.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(store) = stores.get(tenant) {
            return Ok(store.clone());
        }
        let schema = Identifier::parse("schema name", &self.schema_of(tenant))?;
        let options = (self.configure)(PgStoreOptions::new(schema.as_str())?);
        let store = PgEventStore::with_options(self.pool.clone(), options);
        stores.insert(tenant.clone(), store.clone());
        Ok(store)
    }

    /// The store of the tenant `resolver` finds in `metadata`.
    pub fn resolve(
        &self,
        resolver: &dyn TenantResolver,
        metadata: &Metadata,
    ) -> Result<PgEventStore, StoreError> {
        let tenant = resolver
            .resolve(metadata)
            .map_err(|e| StoreError::invalid(e.to_string()))?;
        self.store(&tenant)
    }

    /// Creates and migrates the schema of each of `tenants`; returns the
    /// migrations applied to each.
    pub async fn migrate(
        &self,
        tenants: &[TenantId],
    ) -> Result<Vec<(TenantId, Vec<i32>)>, StoreError> {
        let mut applied = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            let store = self.store(tenant)?;
            applied.push((tenant.clone(), store.migrate().await?));
        }
        Ok(applied)
    }

    /// Migrates every tenant whose schema exists (after an upgrade).
    pub async fn migrate_all(&self) -> Result<Vec<(TenantId, Vec<i32>)>, StoreError> {
        let tenants = self.existing().await?;
        self.migrate(&tenants).await
    }

    /// The tenants whose schema exists, in order.
    pub async fn existing(&self) -> Result<Vec<TenantId>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1) ORDER BY 1",
        )
        .bind(&self.prefix)
        .fetch_all(&self.pool)
        .await
        .map_err(crate::error::store_error)?;
        Ok(names
            .iter()
            .filter_map(|name| TenantId::parse(&name[self.prefix.len()..]).ok())
            .collect())
    }
}
