-- The versions of each projection that programs have run: the events each
-- version handles, as first recorded (a program whose code handles other
-- events under the same name and version is refused), and when it was
-- activated. The highest activated version is the one queries read; a new
-- version catches up in the background until it is activated.
CREATE TABLE {schema}.projection_versions (
    name          text        NOT NULL,
    version       integer     NOT NULL,
    event_names   text[]      NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    activated_at  timestamptz,
    CONSTRAINT projection_versions_pkey PRIMARY KEY (name, version),
    CONSTRAINT projection_versions_version_check CHECK (version > 0)
);
