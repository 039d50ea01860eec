//! Whose rows a store's sessions see and write: the default tenant, one
//! tenant of a conjoined schema, or (reading only) every tenant; and what
//! that means for an append (the tenant stamped on each event).

use std::borrow::Cow;

use eventsource::store::{InvalidRequest, RequestField};
use eventsource::{NewEvent, StoreError};
use sqlx::PgConnection;

use crate::error::store_error;
use crate::tenant_id::{TENANT_HEADER, TenantError, TenantId};

/// The session setting naming the tenant (read by the column defaults of
/// migration 12 and the policies of `PgConjoined::install`).
pub(crate) const TENANT_SETTING: &str = "eventsource.tenant";

/// The session setting that lets a session read every tenant's events.
pub(crate) const ALL_TENANTS_SETTING: &str = "eventsource.all_tenants";

/// The session's tenant as SQL, as the column defaults of migration 12 and
/// the policies of `PgConjoined::install` spell it (and read-model
/// templates, as `{tenant}`).
pub(crate) const SESSION_TENANT: &str =
    "coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default')";

/// The tenant of rows written without one: everything stored before
/// migration 12, and whatever a store outside [`PgConjoined`](crate::PgConjoined) writes.
pub const DEFAULT_TENANT: &str = "default";

/// The tenant a cross-tenant session writes its own rows under (its
/// checkpoints, leases, dead letters): not a valid [`TenantId`], so no
/// tenant can claim it, and refused on events by the table's check.
pub(crate) const ACROSS_TENANTS: &str = "_all";

/// Whose rows a store sees and writes.
#[derive(Clone, Debug, Default)]
pub(crate) enum Scope {
    /// A store that knows nothing of tenants: the default tenant.
    #[default]
    Default,
    /// One tenant of a [`PgConjoined`](crate::PgConjoined).
    Tenant(TenantId),
    /// Every tenant's events, read only ([`PgAcrossTenants`](crate::PgAcrossTenants)).
    AllTenants,
}

impl Scope {
    /// `events` with the tenant stamped on their metadata; refuses a batch
    /// that names another tenant, and any batch of the cross-tenant scope.
    /// `validate` checks the batch as given first, so malformed input gets
    /// its own precise error rather than a tenant refusal.
    pub(crate) fn stamp<'e>(
        &self,
        events: &'e [NewEvent],
        validate: impl FnOnce(&[NewEvent]) -> Result<(), StoreError>,
    ) -> Result<Cow<'e, [NewEvent]>, StoreError> {
        let tenant = match self {
            Self::Default => return Ok(Cow::Borrowed(events)),
            Self::AllTenants => {
                return Err(StoreError::invalid(
                    "the cross-tenant store reads only: append through the store of the event's tenant",
                ));
            }
            Self::Tenant(tenant) => tenant.as_str(),
        };
        validate(events)?;
        let mut stamped = events.to_vec();
        for (index, event) in stamped.iter_mut().enumerate() {
            match event.metadata.headers.get(TENANT_HEADER) {
                Some(claimed) if claimed != tenant => {
                    let refused = TenantError::OtherTenant {
                        claimed: claimed.clone(),
                        serves: tenant.to_owned(),
                    };
                    return Err(StoreError::Invalid(
                        InvalidRequest::of(RequestField::Metadata, refused.to_string())
                            .at_event(index),
                    ));
                }
                Some(_) => {}
                None => {
                    event
                        .metadata
                        .headers
                        .insert(TENANT_HEADER.to_owned(), tenant.to_owned());
                }
            }
        }
        Ok(Cow::Owned(stamped))
    }

    /// Puts the caller's transaction `conn` in this scope's tenant (the
    /// connection may come from anywhere); local to the transaction. Then
    /// checks that the tenant holds for the statements that follow: outside
    /// a transaction the local setting ends with its statement, and the
    /// connection's own tenant would take the rows.
    pub(crate) async fn enter(&self, conn: &mut PgConnection) -> Result<(), StoreError> {
        let tenant = match self {
            Self::Default => return Ok(()),
            Self::AllTenants => ACROSS_TENANTS,
            Self::Tenant(tenant) => tenant.as_str(),
        };
        sqlx::query(
            "SELECT set_config('eventsource.tenant', $1, true), \
                    set_config('eventsource.all_tenants', 'off', true)",
        )
        .bind(tenant)
        .execute(&mut *conn)
        .await
        .map_err(store_error)?;
        let in_effect: Option<String> =
            sqlx::query_scalar("SELECT current_setting('eventsource.tenant', true)")
                .fetch_one(&mut *conn)
                .await
                .map_err(store_error)?;
        if in_effect.as_deref() != Some(tenant) {
            return Err(StoreError::invalid(format!(
                "appending inside a caller's transaction for tenant `{tenant}` needs an open \
                 transaction (or a connection of that tenant's pool); this connection is in \
                 tenant `{}`",
                in_effect.as_deref().unwrap_or(DEFAULT_TENANT)
            )));
        }
        Ok(())
    }
}
