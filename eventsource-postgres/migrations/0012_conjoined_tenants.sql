-- Conjoined multi-tenancy, the columns: every tenant-owned row carries
-- the tenant it belongs to.
--
-- The tenant of a session is the setting `eventsource.tenant` (set by
-- `PgConjoined` on each of a tenant's connections); a session that sets
-- none is the tenant `default`, which every row written before this
-- migration belongs to, so stores that know nothing of tenants keep
-- seeing exactly what they saw. New rows take the session's tenant by
-- default, so no INSERT of the store names the column.
--
-- No row-level security here: a schema becomes conjoined only by the
-- explicit step `PgConjoined::install` (policies, forced, and an index for
-- tenant-scoped subscriptions), so a store that never opts in pays for no
-- policy on any statement.
--
-- The tenant comes LAST in every key: the store's statements look rows up
-- by the key's old prefix (stream id, event id, checkpoint name, ...) and
-- name no tenant (the policies add it, and do not bind superusers or
-- BYPASSRLS roles at all), so with the tenant first PostgreSQL (before
-- skip scan) could not use the key for them. Last, the prefix keeps its
-- index, the policy's tenant is checked within it, and uniqueness per
-- tenant is the same. (`ON CONFLICT` infers its key by column set.)
--
-- The column is added with the constant first (existing rows are the
-- default tenant's whatever the migrating session has set), then given
-- the session's tenant as its default.

ALTER TABLE {schema}.events ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.events
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    -- Two tenants may both have stream `order-1`, and the same event id.
    DROP CONSTRAINT events_stream_version_key,
    ADD CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version, tenant_id),
    DROP CONSTRAINT events_event_id_key,
    ADD CONSTRAINT events_event_id_key UNIQUE (event_id, tenant_id),
    -- The cross-tenant session's own rows (`_all`: its checkpoints, say)
    -- are never events. (A check of the tenant id's whole shape, a regular
    -- expression, would cost more per row than the rest of the insert.)
    ADD CONSTRAINT events_tenant_check CHECK (tenant_id <> '_all');

ALTER TABLE {schema}.snapshots ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.snapshots
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT snapshots_pkey,
    ADD CONSTRAINT snapshots_pkey PRIMARY KEY (stream_id, tenant_id);

ALTER TABLE {schema}.checkpoints ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.checkpoints
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT checkpoints_pkey,
    ADD CONSTRAINT checkpoints_pkey PRIMARY KEY (name, tenant_id);

ALTER TABLE {schema}.projection_leases ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.projection_leases
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT projection_leases_pkey,
    ADD CONSTRAINT projection_leases_pkey PRIMARY KEY (name, tenant_id);

ALTER TABLE {schema}.dead_letters ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.dead_letters
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT dead_letters_pkey,
    ADD CONSTRAINT dead_letters_pkey PRIMARY KEY (projection, global_position, tenant_id);

ALTER TABLE {schema}.saga_instances ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.saga_instances
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT saga_instances_pkey,
    ADD CONSTRAINT saga_instances_pkey PRIMARY KEY (saga, correlation_id, tenant_id);

ALTER TABLE {schema}.projection_versions ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.projection_versions
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT projection_versions_pkey,
    ADD CONSTRAINT projection_versions_pkey PRIMARY KEY (name, version, tenant_id);

-- Control requests keep their id as key (a UUID); the tenant only scopes them.
ALTER TABLE {schema}.projection_controls ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.projection_controls
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default');

ALTER TABLE {schema}.subject_keys ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.subject_keys
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT subject_keys_pkey,
    ADD CONSTRAINT subject_keys_pkey PRIMARY KEY (subject, tenant_id);

ALTER TABLE {schema}.saga_deadlines ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.saga_deadlines
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default'),
    DROP CONSTRAINT saga_deadlines_name_key,
    ADD CONSTRAINT saga_deadlines_name_key UNIQUE (saga, correlation_id, name, tenant_id);

-- The archive (migration 11) keeps each moved event's tenant.
ALTER TABLE {schema}.events_archive ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE {schema}.events_archive
    ALTER COLUMN tenant_id SET DEFAULT coalesce(nullif(current_setting('eventsource.tenant', true), ''), 'default');
