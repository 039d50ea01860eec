-- The archive: older events of streams moved out of the hot `events` table
-- (see `eventsource::store::archive`), with the columns and positions they
-- had there. Partitioned by global position, so each range can be exported,
-- detached or dropped as one table; `archive_partition` creates the range
-- partitions on demand (positions are transaction id * 65536, so a range of
-- 2^38 positions holds the events of 4,194,304 transaction ids).
CREATE TABLE {schema}.events_archive (
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
    recorded_at     timestamptz NOT NULL,
    archived_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- As in the hot table (migration 10), so partitioned projections read
    -- their share of the archive too.
    stream_bucket   smallint    NOT NULL GENERATED ALWAYS AS ((
        (get_byte(decode(md5(stream_id), 'hex'), 0) * 256
         + get_byte(decode(md5(stream_id), 'hex'), 1)) % 1024
    )::smallint) STORED,
    CONSTRAINT events_archive_pkey PRIMARY KEY (global_position)
) PARTITION BY RANGE (global_position);

-- Loads of archived streams read by stream and version.
CREATE INDEX events_archive_stream_idx ON {schema}.events_archive (stream_id, stream_version);
CREATE INDEX events_archive_stream_bucket_idx ON {schema}.events_archive (stream_bucket, global_position);

-- Creates the partition holding positions $1 to $2 (inclusive) where one is
-- missing; returns how many it created (null for null bounds: no rows). A partition is named after its
-- number, `events_archive_<n>`, and covers [n * 2^38, (n + 1) * 2^38).
CREATE FUNCTION {schema}.archive_partitions(first_position bigint, last_position bigint)
RETURNS integer LANGUAGE plpgsql STRICT AS $$
DECLARE
    width constant bigint := 274877906944;
    created integer := 0;
BEGIN
    FOR n IN (first_position / width)..(last_position / width) LOOP
        IF to_regclass(format('{schema}.%I', 'events_archive_' || n)) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE {schema}.%I PARTITION OF {schema}.events_archive FOR VALUES FROM (%s) TO (%s)',
                'events_archive_' || n, n * width, (n + 1) * width);
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;
