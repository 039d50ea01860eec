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
