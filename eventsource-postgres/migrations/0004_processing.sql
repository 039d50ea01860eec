-- Which runner instance processes each projection; commits are fenced by it.
CREATE TABLE {schema}.projection_leases (
    name       text        NOT NULL,
    owner      uuid        NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT projection_leases_pkey PRIMARY KEY (name)
);

-- Events a projection gave up on, one per projection and position.
CREATE TABLE {schema}.dead_letters (
    projection      text        NOT NULL,
    global_position bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_name      text        NOT NULL,
    error           text        NOT NULL,
    attempts        integer     NOT NULL,
    parked_at       timestamptz NOT NULL,
    CONSTRAINT dead_letters_pkey PRIMARY KEY (projection, global_position)
);

-- Saga instances, one per saga and correlation id.
CREATE TABLE {schema}.saga_instances (
    saga           text        NOT NULL,
    correlation_id uuid        NOT NULL,
    state          jsonb       NOT NULL,
    completed      boolean     NOT NULL,
    updated_at     timestamptz NOT NULL,
    CONSTRAINT saga_instances_pkey PRIMARY KEY (saga, correlation_id)
);
