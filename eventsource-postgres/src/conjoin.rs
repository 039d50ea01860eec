//! The step that makes a schema conjoined: row-level security, forced,
//! with policies confining each session to the tenant of its setting
//! `eventsource.tenant`.
//!
//! Migration 12 only gives the tables their `tenant_id` column and keys;
//! a schema whose stores know nothing of tenants never runs this step and
//! pays for no policy. Running it again replaces the policies with the
//! same ones, in one transaction, so it is harmless.

use eventsource::StoreError;
use sqlx::{AssertSqlSafe, PgPool};

use crate::error::store_error;
use crate::schema::Identifier;

/// Every table's row-level security and policies, dropped and made anew
/// (so a second run, or a run after an upgrade, leaves exactly these).
/// FORCE: the store usually connects as the tables' owner, whom row-level
/// security would otherwise exempt. Superusers and BYPASSRLS roles are
/// exempt regardless.
const INSTALL: &str = "\
ALTER TABLE {schema}.events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_reads ON {schema}.events;
CREATE POLICY tenant_reads ON {schema}.events FOR SELECT USING (
    tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default')
    OR current_setting('eventsource.all_tenants', true) = 'on'
);
-- A tenant's event names that tenant in its metadata (header `tenant`),
-- which is how a cross-tenant reader learns it: a forged header is refused
-- here as well as by the store. The default tenant's events are exempt,
-- since schema-per-tenant stores put their own tenant there.
DROP POLICY IF EXISTS tenant_inserts ON {schema}.events;
CREATE POLICY tenant_inserts ON {schema}.events FOR INSERT WITH CHECK (
    tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default')
    AND (tenant_id = 'default' OR metadata #>> '{headers,tenant}' = tenant_id)
);
DROP POLICY IF EXISTS tenant_updates ON {schema}.events;
CREATE POLICY tenant_updates ON {schema}.events FOR UPDATE
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
DROP POLICY IF EXISTS tenant_deletes ON {schema}.events;
CREATE POLICY tenant_deletes ON {schema}.events FOR DELETE
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
-- The archive (migration 11) is read with the log, so it is read the same
-- way; the archive job moves a tenant's own rows, and a hard delete removes
-- them.
ALTER TABLE {schema}.events_archive ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_reads ON {schema}.events_archive;
CREATE POLICY tenant_reads ON {schema}.events_archive FOR SELECT USING (
    tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default')
    OR current_setting('eventsource.all_tenants', true) = 'on'
);
DROP POLICY IF EXISTS tenant_inserts ON {schema}.events_archive;
CREATE POLICY tenant_inserts ON {schema}.events_archive FOR INSERT WITH CHECK (
    tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default')
);
DROP POLICY IF EXISTS tenant_deletes ON {schema}.events_archive;
CREATE POLICY tenant_deletes ON {schema}.events_archive FOR DELETE
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
-- No index (tenant_id, global_position) for tenant-scoped subscriptions:
-- the read policy's tenant test is ORed with the cross-tenant switch, so
-- the planner cannot use one (it reads events_pkey in order and filters),
-- and it would only cost every insert.
-- Everything but events: the session's own tenant only, even for a
-- cross-tenant session (whose own checkpoints and leases are its own).
ALTER TABLE {schema}.snapshots ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.snapshots;
CREATE POLICY tenant_rows ON {schema}.snapshots FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.checkpoints ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.checkpoints;
CREATE POLICY tenant_rows ON {schema}.checkpoints FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.projection_leases ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.projection_leases;
CREATE POLICY tenant_rows ON {schema}.projection_leases FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.dead_letters ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.dead_letters;
CREATE POLICY tenant_rows ON {schema}.dead_letters FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.saga_instances ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.saga_instances;
CREATE POLICY tenant_rows ON {schema}.saga_instances FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.projection_versions ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.projection_versions;
CREATE POLICY tenant_rows ON {schema}.projection_versions FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.projection_controls ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.projection_controls;
CREATE POLICY tenant_rows ON {schema}.projection_controls FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.subject_keys ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.subject_keys;
CREATE POLICY tenant_rows ON {schema}.subject_keys FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.saga_deadlines ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_rows ON {schema}.saga_deadlines;
CREATE POLICY tenant_rows ON {schema}.saga_deadlines FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));";

/// Each policy the step makes, with its table.
pub(crate) const POLICIES: &[(&str, &str)] = &[
    ("events", "tenant_reads"),
    ("events", "tenant_inserts"),
    ("events", "tenant_updates"),
    ("events", "tenant_deletes"),
    ("events_archive", "tenant_reads"),
    ("events_archive", "tenant_inserts"),
    ("events_archive", "tenant_deletes"),
    ("snapshots", "tenant_rows"),
    ("checkpoints", "tenant_rows"),
    ("projection_leases", "tenant_rows"),
    ("dead_letters", "tenant_rows"),
    ("saga_instances", "tenant_rows"),
    ("projection_versions", "tenant_rows"),
    ("projection_controls", "tenant_rows"),
    ("subject_keys", "tenant_rows"),
    ("saga_deadlines", "tenant_rows"),
];

/// The policies of [`POLICIES`] missing from `schema`, or on a table whose
/// row-level security is not enabled and forced, as `table.policy`.
const MISSING: &str = "\
SELECT w.tablename || '.' || w.policyname
FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS w(tablename, policyname, ord)
WHERE NOT EXISTS (
        SELECT 1 FROM pg_policies p
        WHERE p.schemaname = $1 AND p.tablename = w.tablename AND p.policyname = w.policyname)
    OR NOT EXISTS (
        SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = w.tablename
            AND c.relrowsecurity AND c.relforcerowsecurity)
ORDER BY w.ord";

/// Makes `schema` (migrated to at least migration 12) conjoined, under the
/// migrations' advisory lock so concurrent runs queue.
pub(crate) async fn install(pool: &PgPool, schema: &Identifier) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("eventsource.migrate:{schema}"))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    sqlx::raw_sql(AssertSqlSafe(INSTALL.replace("{schema}", &schema.quoted())))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    tx.commit().await.map_err(store_error)
}

/// What [`install`] would add to `schema`: empty when it is conjoined.
pub(crate) async fn missing(pool: &PgPool, schema: &Identifier) -> Result<Vec<String>, StoreError> {
    let (tables, policies): (Vec<&str>, Vec<&str>) = POLICIES.iter().copied().unzip();
    sqlx::query_scalar(MISSING)
        .bind(schema.as_str())
        .bind(tables)
        .bind(policies)
        .fetch_all(pool)
        .await
        .map_err(store_error)
}
