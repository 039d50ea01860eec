-- The keys of crypto-shredding: one per subject whose personal data the
-- store holds encrypted. Forgetting a subject clears its key for good and
-- keeps the row, so that no personal data of it can be stored again.
CREATE TABLE {schema}.subject_keys (
    subject      text        NOT NULL,
    key          bytea,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    forgotten_at timestamptz,
    CONSTRAINT subject_keys_pkey PRIMARY KEY (subject),
    CONSTRAINT subject_keys_forgotten_check CHECK ((key IS NULL) = (forgotten_at IS NOT NULL)),
    CONSTRAINT subject_keys_key_check CHECK (key IS NULL OR octet_length(key) = 32)
);
