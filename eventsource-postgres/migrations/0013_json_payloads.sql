-- Event payloads and metadata, hot and archived, and snapshot states in
-- `json` rather than `jsonb`.
--
-- Every read returns these columns as text. `jsonb` turns its binary form
-- back into text on each of them (`jsonb_out`, a quarter of the server's
-- time in catch-up and loads); `json` keeps the text as written (checked
-- once, on insert) and returns it as is. The store looks inside them only
-- in the conjoined tenant policy (`metadata #>> ...`, which `json` has as
-- well), so it gives up nothing; the statements cast what they write to
-- `json`, which PostgreSQL assigns to `jsonb` columns as well, and read
-- `::text`, so a store whose columns stay (or are made again) `jsonb`
-- works the same. See the crate documentation, "Payload columns".
--
-- A column stays `jsonb` where anything of the user's depends on it, in
-- either table or any archive partition: an index (GIN for `@>`, or on an
-- expression), a view, a trigger on it, statistics. Such a store queries
-- its payloads and keeps the type that serves it; the notice says which
-- columns were kept. A payload column is converted in both tables or in
-- neither, since global reads take the two in one `UNION ALL`.
--
-- Row-level security policies (those of `PgConjoined::install` read the
-- tenant header from `metadata`) block a change of type; those depending
-- on a converted column are dropped and made again from their own
-- definitions, in this transaction, so no statement ever sees the table
-- without them.
--
-- Converting rewrites the tables (an exclusive lock for as long as that
-- takes); a store that wants to stay on `jsonb`, or convert later, records
-- this migration as applied before upgrading (see the change log).
DO $migration$
DECLARE
    columns constant text[] := ARRAY['payload', 'metadata', 'state'];
    owners constant text[] := ARRAY['events events_archive', 'events events_archive', 'snapshots'];
    col text;
    tables text[];
    rels oid[];
    -- The (table, column) pairs to convert, as two arrays.
    convert_tables text[] := ARRAY[]::text[];
    convert_columns text[] := ARRAY[]::text[];
    kept text[] := ARRAY[]::text[];
    policy_ids oid[] := ARRAY[]::oid[];
    policies text[];
    drops text[];
    statement text;
BEGIN
    FOR i IN 1 .. array_length(columns, 1) LOOP
        col := columns[i];
        tables := string_to_array(owners[i], ' ');
        -- Each table with its partitions, if it has any.
        SELECT array_agg(DISTINCT tree.relid) INTO rels
        FROM unnest(tables) AS n(name)
        CROSS JOIN LATERAL (
            SELECT format('{schema}.%I', n.name)::regclass
            UNION ALL
            SELECT p.relid FROM pg_partition_tree(format('{schema}.%I', n.name)::regclass) AS p
        ) AS tree(relid);
        IF NOT EXISTS (
            SELECT 1 FROM pg_attribute a
            WHERE a.attrelid = ANY (rels) AND a.attname = col AND NOT a.attisdropped
                AND a.atttypid = 'jsonb'::regtype
        ) THEN
            CONTINUE;
        END IF;
        IF EXISTS (
            SELECT 1 FROM pg_depend d
            JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = ANY (rels)
                AND a.attname = col AND d.classid <> 'pg_policy'::regclass
        ) THEN
            kept := kept || format('%s (%s)', col, replace(owners[i], ' ', ', '));
            CONTINUE;
        END IF;
        convert_tables := convert_tables || tables;
        convert_columns := convert_columns || array_fill(col, ARRAY[cardinality(tables)]);
        policy_ids := policy_ids || ARRAY(
            SELECT d.objid FROM pg_depend d
            JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
            WHERE d.classid = 'pg_policy'::regclass AND d.refclassid = 'pg_class'::regclass
                AND d.refobjid = ANY (rels) AND a.attname = col
        );
    END LOOP;
    SELECT
        array_agg(format('CREATE POLICY %I ON %I.%I AS %s FOR %s TO %s',
                p.policyname, p.schemaname, p.tablename, p.permissive, p.cmd,
                (SELECT string_agg(CASE WHEN r = 'public' THEN 'public' ELSE quote_ident(r) END, ', ')
                 FROM unnest(p.roles) AS r))
            || coalesce(' USING (' || p.qual || ')', '')
            || coalesce(' WITH CHECK (' || p.with_check || ')', '')),
        array_agg(format('DROP POLICY %I ON %I.%I', p.policyname, p.schemaname, p.tablename))
    INTO policies, drops
    FROM pg_policy pol
    JOIN pg_class c ON c.oid = pol.polrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_policies p ON p.schemaname = n.nspname AND p.tablename = c.relname
        AND p.policyname = pol.polname
    WHERE pol.oid = ANY (policy_ids);
    FOREACH statement IN ARRAY coalesce(drops, ARRAY[]::text[]) LOOP
        EXECUTE statement;
    END LOOP;
    -- One statement per table, so each is rewritten once.
    FOR statement IN
        SELECT format('ALTER TABLE {schema}.%I %s', c.name,
                string_agg(format('ALTER COLUMN %I TYPE json', c.col), ', '))
        FROM unnest(convert_tables, convert_columns) AS c(name, col)
        GROUP BY c.name
    LOOP
        EXECUTE statement;
    END LOOP;
    FOREACH statement IN ARRAY coalesce(policies, ARRAY[]::text[]) LOOP
        EXECUTE statement;
    END LOOP;
    IF cardinality(kept) > 0 THEN
        RAISE NOTICE 'eventsource: kept as jsonb, something depending on them: %', array_to_string(kept, ', ');
    END IF;
END
$migration$;
