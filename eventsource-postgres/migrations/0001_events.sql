-- The event log. `{schema}` is replaced by the store's quoted schema name.
--
-- global_position = transaction id * 65536 + index within the transaction;
-- see the crate documentation for why readers can rely on it for a gap-free
-- order. It is the primary key, so the per-transaction probe for the next
-- free index and every positional read are index range scans.
CREATE TABLE {schema}.events (
    global_position bigint      NOT NULL,
    transaction_id  xid8        NOT NULL,
    stream_id       text        NOT NULL,
    aggregate_type  text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    event_name      text        NOT NULL,
    schema_version  integer     NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT events_pkey PRIMARY KEY (global_position),
    -- Optimistic concurrency: two appends cannot both take a stream version.
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    -- Idempotent appends: a retried batch collides here.
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_global_position_check CHECK (global_position > 0),
    CONSTRAINT events_stream_version_check CHECK (stream_version > 0),
    CONSTRAINT events_schema_version_check CHECK (schema_version >= 0)
);

-- Reads filtered by aggregate type, in global order.
CREATE INDEX events_aggregate_type_idx ON {schema}.events (aggregate_type, global_position);

-- Reads from a point in time. Recording times grow with insertion order, so a
-- BRIN index stays tiny and costs appends next to nothing.
CREATE INDEX events_recorded_at_idx ON {schema}.events USING brin (recorded_at);
