-- Requests operators record for the instance that holds a projection's
-- lease (pause, resume, rebuild, reset, retry of parked events), and what
-- became of them. Runners are woken through NOTIFY on the store's control
-- channel and poll as well; the latest pause or resume of a projection
-- that was not cancelled or failed says whether it is paused.
CREATE TABLE {schema}.projection_controls (
    id           uuid        NOT NULL,
    projection   text        NOT NULL,
    command      text        NOT NULL,
    argument     bigint,
    requested_by text,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    status       text        NOT NULL DEFAULT 'pending',
    handled_by   uuid,
    updated_at   timestamptz,
    outcome      text,
    CONSTRAINT projection_controls_pkey PRIMARY KEY (id),
    CONSTRAINT projection_controls_command_check
        CHECK (command IN ('pause', 'resume', 'rebuild', 'reset', 'retry')),
    CONSTRAINT projection_controls_status_check
        CHECK (status IN ('pending', 'running', 'done', 'failed', 'cancelled')),
    CONSTRAINT projection_controls_argument_check CHECK (argument >= 0)
);

CREATE INDEX projection_controls_projection_idx
    ON {schema}.projection_controls (projection, requested_at);

-- A parked event an operator skipped leaves the parked list but keeps its
-- row, with the reason, who skipped it and when.
ALTER TABLE {schema}.dead_letters
    ADD COLUMN skipped_at  timestamptz,
    ADD COLUMN skip_reason text,
    ADD COLUMN skipped_by  text;
