-- The steps each read model applied to its own tables (see `PgReadModel`):
-- a step belongs to the projection version that introduced it and runs
-- once, in order, before that version handles any event.
CREATE TABLE {schema}.read_model_migrations (
    read_model  text        NOT NULL,
    version     integer     NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT read_model_migrations_pkey PRIMARY KEY (read_model, version),
    CONSTRAINT read_model_migrations_version_check CHECK (version > 0)
);

-- Saga deadlines waiting to fire (see `DeadlineStore`): one per saga
-- instance and name. A scheduler claims due rows for a lease
-- (`claimed_until`), appends their `DeadlineReached` event, then deletes
-- them; a claim that ran out may be taken by another scheduler.
CREATE TABLE {schema}.saga_deadlines (
    id             uuid        NOT NULL,
    saga           text        NOT NULL,
    correlation_id uuid        NOT NULL,
    name           text        NOT NULL,
    due_at         timestamptz NOT NULL,
    payload        jsonb       NOT NULL,
    claimed_by     uuid,
    claimed_until  timestamptz,
    CONSTRAINT saga_deadlines_pkey PRIMARY KEY (id),
    CONSTRAINT saga_deadlines_name_key UNIQUE (saga, correlation_id, name)
);
CREATE INDEX saga_deadlines_due ON {schema}.saga_deadlines (due_at);
