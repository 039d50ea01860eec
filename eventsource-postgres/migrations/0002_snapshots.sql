-- The latest snapshot of each stream.
CREATE TABLE {schema}.snapshots (
    stream_id      text        NOT NULL,
    aggregate_type text        NOT NULL,
    version        bigint      NOT NULL,
    revision       bigint      NOT NULL,
    state          jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (stream_id),
    CONSTRAINT snapshots_version_check CHECK (version >= 0),
    CONSTRAINT snapshots_revision_check CHECK (revision >= 0)
);
