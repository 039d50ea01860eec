-- A parked event keeps the record as it was stored (payload and metadata as
-- text, even when they do not decode), so an operator can see what failed.
-- Rows parked before this migration have empty texts and no recording time.
ALTER TABLE {schema}.dead_letters
    ADD COLUMN schema_version integer     NOT NULL DEFAULT 0,
    ADD COLUMN payload        text        NOT NULL DEFAULT '',
    ADD COLUMN metadata       text        NOT NULL DEFAULT '',
    ADD COLUMN recorded_at    timestamptz;
