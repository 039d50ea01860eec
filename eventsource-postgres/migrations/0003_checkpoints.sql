-- How far each named consumer has read the global log.
CREATE TABLE {schema}.checkpoints (
    name       text        NOT NULL,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkpoints_pkey PRIMARY KEY (name),
    CONSTRAINT checkpoints_position_check CHECK (position >= 0)
);
