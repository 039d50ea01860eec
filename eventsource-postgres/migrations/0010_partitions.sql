-- Partitioned projections (see `eventsource::store::PartitionFilter`).
--
-- Each event's stream bucket: the first two bytes of MD5(stream_id),
-- big-endian, modulo 1024, the same function as `stream_bucket` in Rust.
-- MD5 is a fixed standard, so the bucket does not depend on the server's
-- version or byte order (PostgreSQL's own `hashtext` does). Generated, so
-- no append statement names it. Partition i of N reads the buckets b with
-- b % N = i, through the index, in global order. Adding a stored
-- generated column rewrites the table once.
ALTER TABLE {schema}.events ADD COLUMN stream_bucket smallint NOT NULL
    GENERATED ALWAYS AS ((
        (get_byte(decode(md5(stream_id), 'hex'), 0) * 256
         + get_byte(decode(md5(stream_id), 'hex'), 1)) % 1024
    )::smallint) STORED;
CREATE INDEX events_stream_bucket_idx ON {schema}.events (stream_bucket, global_position);

-- The runner instances sharing the partitions of a projection version:
-- each renews its row while it runs; those whose row has not expired
-- divide the partitions between them.
CREATE TABLE {schema}.projection_members (
    slot       text        NOT NULL,
    member     uuid        NOT NULL,
    expires_at timestamptz NOT NULL,
    CONSTRAINT projection_members_pkey PRIMARY KEY (slot, member)
);
