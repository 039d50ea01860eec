-- Conjoined multi-tenancy: every tenant-owned row carries the tenant it
-- belongs to, and row-level security confines each session to its tenant.
--
-- The tenant of a session is the setting `eventsource.tenant` (set by
-- `PgConjoined` on each of a tenant's connections); a session that sets
-- none is the tenant `default`, which every row written before this
-- migration belongs to, so stores that know nothing of tenants keep
-- seeing exactly what they saw. New rows take the session's tenant by
-- default, so no INSERT of the store names the column.
--
-- FORCE: the store usually connects as the tables' owner, whom row-level
-- security would otherwise exempt. Superusers and BYPASSRLS roles are
-- exempt regardless, which is why `PgConjoined` refuses to run as one.
--
-- Only events may be read across tenants, and only by a session that
-- also sets `eventsource.all_tenants` to `on` (`PgConjoined::across_tenants`);
-- no session ever writes or deletes another tenant's rows.
--
-- The column is added with the constant first (existing rows are the
-- default tenant's whatever the migrating session has set), then given
-- the session's tenant as its default.

ALTER TABLE {schema}.events ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.events
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    -- Two tenants may both have stream `order-1`, and the same event id.
    DROP CONSTRAINT events_stream_version_key,
    ADD CONSTRAINT events_stream_version_key UNIQUE (tenant_id, stream_id, stream_version),
    DROP CONSTRAINT events_event_id_key,
    ADD CONSTRAINT events_event_id_key UNIQUE (tenant_id, event_id),
    -- The cross-tenant session's own rows (`_all`: its checkpoints, say)
    -- are never events. (A check of the tenant id's whole shape, a regular
    -- expression, would cost more per row than the rest of the insert.)
    ADD CONSTRAINT events_tenant_check CHECK (tenant_id <> '_all');
ALTER TABLE {schema}.events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_reads ON {schema}.events FOR SELECT USING (
    tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default')
    OR current_setting('eventsource.all_tenants', true) = 'on'
);
-- A tenant's event names that tenant in its metadata (header `tenant`),
-- which is how a cross-tenant reader learns it: a forged header is refused
-- here as well as by the store. The default tenant's events are exempt,
-- since schema-per-tenant stores put their own tenant there.
CREATE POLICY tenant_inserts ON {schema}.events FOR INSERT WITH CHECK (
    tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default')
    AND (tenant_id = 'default' OR metadata #>> '{headers,tenant}' = tenant_id)
);
CREATE POLICY tenant_updates ON {schema}.events FOR UPDATE
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
CREATE POLICY tenant_deletes ON {schema}.events FOR DELETE
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));

ALTER TABLE {schema}.snapshots ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.snapshots
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT snapshots_pkey,
    ADD CONSTRAINT snapshots_pkey PRIMARY KEY (tenant_id, stream_id);

ALTER TABLE {schema}.checkpoints ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.checkpoints
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT checkpoints_pkey,
    ADD CONSTRAINT checkpoints_pkey PRIMARY KEY (tenant_id, name);

ALTER TABLE {schema}.projection_leases ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.projection_leases
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT projection_leases_pkey,
    ADD CONSTRAINT projection_leases_pkey PRIMARY KEY (tenant_id, name);

ALTER TABLE {schema}.dead_letters ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.dead_letters
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT dead_letters_pkey,
    ADD CONSTRAINT dead_letters_pkey PRIMARY KEY (tenant_id, projection, global_position);

ALTER TABLE {schema}.saga_instances ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.saga_instances
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT saga_instances_pkey,
    ADD CONSTRAINT saga_instances_pkey PRIMARY KEY (tenant_id, saga, correlation_id);

ALTER TABLE {schema}.projection_versions ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.projection_versions
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT projection_versions_pkey,
    ADD CONSTRAINT projection_versions_pkey PRIMARY KEY (tenant_id, name, version);

-- Control requests keep their id as key (a UUID); the tenant only scopes them.
ALTER TABLE {schema}.projection_controls ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.projection_controls
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default');

ALTER TABLE {schema}.subject_keys ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.subject_keys
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT subject_keys_pkey,
    ADD CONSTRAINT subject_keys_pkey PRIMARY KEY (tenant_id, subject);

ALTER TABLE {schema}.saga_deadlines ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.saga_deadlines
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT saga_deadlines_name_key,
    ADD CONSTRAINT saga_deadlines_name_key UNIQUE (tenant_id, saga, correlation_id, name);

-- Everything but events: the session's own tenant only, even for a
-- cross-tenant session (whose own checkpoints and leases are its own).
ALTER TABLE {schema}.snapshots ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.snapshots FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.checkpoints ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.checkpoints FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.projection_leases ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.projection_leases FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.dead_letters ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.dead_letters FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.saga_instances ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.saga_instances FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.projection_versions ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.projection_versions FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.projection_controls ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.projection_controls FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.subject_keys ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.subject_keys FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
ALTER TABLE {schema}.saga_deadlines ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON {schema}.saga_deadlines FOR ALL
    USING (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'))
    WITH CHECK (tenant_id = coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'));
