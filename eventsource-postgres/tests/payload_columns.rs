//! The payload columns' type: stores from before migration 13 (`jsonb`)
//! are converted to `json` and read back every event unchanged; a column
//! something depends on keeps `jsonb`, row-level security policies on a
//! converted column are made again as they were; and a store whose columns
//! are `jsonb` (the option for users who query payloads) passes the
//! conformance suite.

mod common;

use std::sync::{Arc, Mutex};

use eventsource::prelude::*;
use eventsource::store::{EventFilter, Snapshot, SnapshotStore};
use eventsource::testing::conformance::{self, Subject};
use eventsource_postgres::{PgConjoined, PgEventStore, PgStoreOptions};
use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, PgPool};

const AGG: &str = "payloads.Account";

/// Payloads whose text `jsonb` would rewrite: key order, spacing, number
/// forms, escapes, duplicate keys, nesting.
const PAYLOADS: [&str; 6] = [
    r#"{"b":1,"a":2}"#,
    r#"{ "spaced" :  [1, 2 ,3] }"#,
    r#"{"n":1.50,"big":123456789012345678901234567890}"#,
    r#"{"text":"caf\u00e9 \/ \"quoted\" ✓"}"#,
    r#"{"twice":1,"twice":2}"#,
    r#"{"deep":{"list":[{"x":null},true,false,"s"]}}"#,
];

/// The `(table, column)` pairs migration 13 converts, with their type now.
async fn column_types(pool: &PgPool, schema: &str) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod) \
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT a.attisdropped \
             AND (c.relname, a.attname) IN (('events', 'payload'), ('events', 'metadata'), \
                 ('events_archive', 'payload'), ('events_archive', 'metadata'), \
                 ('snapshots', 'state')) \
         ORDER BY 1, 2",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Every migration before 13 applied to a new schema, recorded as the
/// runner records them: a store as an earlier release left it.
async fn store_before_13(pool: &PgPool) -> PgEventStore {
    let options = PgStoreOptions::new(&common::unique_schema()).unwrap();
    let quoted = format!("\"{}\"", options.schema());
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE SCHEMA {quoted}; \
         CREATE TABLE {quoted}.schema_migrations (version integer PRIMARY KEY, \
         name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )))
    .execute(&mut *tx)
    .await
    .unwrap();
    for migration in eventsource_postgres::migrate::MIGRATIONS
        .iter()
        .filter(|m| m.version < 13)
    {
        sqlx::raw_sql(AssertSqlSafe(migration.sql.replace("{schema}", &quoted)))
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {quoted}.schema_migrations (version, name) VALUES ($1, $2)"
        )))
        .bind(migration.version)
        .bind(migration.name)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    PgEventStore::with_options(pool.clone(), options)
}

/// Everything a reader sees: the global log, each stream, the archive.
async fn everything(store: &PgEventStore) -> (Vec<RecordedEvent>, Vec<Vec<RecordedEvent>>) {
    let all: Vec<RecordedEvent> = store
        .read_all(0, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    let mut streams = Vec::new();
    for stream in ["a", "b", "c"] {
        let hot: Vec<RecordedEvent> = store.read_stream(stream, 1).try_collect().await.unwrap();
        let archived: Vec<RecordedEvent> = store
            .read_archived_stream(stream, 1)
            .try_collect()
            .await
            .unwrap();
        streams.push(hot);
        streams.push(archived);
    }
    (all, streams)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_from_before_migration_13_reads_back_every_event_unchanged() {
    let pool = common::pool(4, "eventsource-tests").await;
    let store = store_before_13(&pool).await;
    let schema = store.schema().to_owned();
    let jsonb =
        |table: &str, column: &str| (table.to_owned(), column.to_owned(), "jsonb".to_owned());
    assert_eq!(
        column_types(&pool, &schema).await,
        [
            jsonb("events", "metadata"),
            jsonb("events", "payload"),
            jsonb("events_archive", "metadata"),
            jsonb("events_archive", "payload"),
            jsonb("snapshots", "state"),
        ]
    );
    for stream in ["a", "b", "c"] {
        let events = PAYLOADS
            .iter()
            .map(|payload| {
                let metadata = Metadata::new()
                    .with_correlation_id(eventsource::uuid::Uuid::now_v7())
                    .with_actor("someone")
                    .with_header("tenant", "default")
                    .with_header("note", "ünïcode");
                NewEvent::new("payloads.Changed", 1, *payload, metadata)
            })
            .collect();
        store
            .append(stream, AGG, ExpectedVersion::NoStream, events)
            .await
            .unwrap();
    }
    // Some of it archived (a partition of `events_archive` made on the way).
    let archived = store
        .archive_streams(&["a".to_owned(), "b".to_owned()])
        .await
        .unwrap();
    assert_eq!(archived.len(), 2);
    SnapshotStore::save(
        &store,
        Snapshot {
            stream_id: "c".into(),
            aggregate_type: AGG.into(),
            version: 6,
            revision: 1,
            state: r#"{"z":1, "a":[1.0, "x"]}"#.into(),
            taken_at: chrono::Utc::now(),
        },
    )
    .await
    .unwrap();
    let before = everything(&store).await;
    let snapshot_before = SnapshotStore::load(&store, "c").await.unwrap();
    assert_eq!(before.0.len(), 3 * PAYLOADS.len());
    assert!(
        !before.1[1].is_empty() && !before.1[3].is_empty(),
        "streams a and b have archived events"
    );

    assert_eq!(store.migrate().await.unwrap(), [13]);
    let json = |table: &str, column: &str| (table.to_owned(), column.to_owned(), "json".to_owned());
    assert_eq!(
        column_types(&pool, &schema).await,
        [
            json("events", "metadata"),
            json("events", "payload"),
            json("events_archive", "metadata"),
            json("events_archive", "payload"),
            json("snapshots", "state"),
        ]
    );
    // `jsonb` had normalised the texts; the conversion keeps what it
    // returned, so every read gives the same text as before, byte for byte.
    let after = everything(&store).await;
    assert_eq!(after, before);
    assert_eq!(
        SnapshotStore::load(&store, "c").await.unwrap(),
        snapshot_before
    );
    for (event, written) in after.0.iter().zip(PAYLOADS.iter().cycle()) {
        let read: serde_json::Value = serde_json::from_str(&event.payload).unwrap();
        let written: serde_json::Value = serde_json::from_str(written).unwrap();
        assert_eq!(read, written, "{}", event.payload);
    }

    // New events keep their text as written, next to the converted ones.
    let appended = store
        .append(
            "c",
            AGG,
            ExpectedVersion::Exact(6),
            vec![NewEvent::new(
                "payloads.Changed",
                1,
                PAYLOADS[1],
                Metadata::new(),
            )],
        )
        .await
        .unwrap();
    let last: Vec<RecordedEvent> = store
        .read_stream("c", appended.last_version)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(&*last[0].payload, PAYLOADS[1]);
    common::drop_schema(&store).await;
    pool.close().await;
}

/// The store's columns altered to `jsonb`, as the crate documentation
/// tells users who query payloads to do.
async fn to_jsonb(pool: &PgPool, schema: &str) {
    sqlx::raw_sql(AssertSqlSafe(format!(
        "ALTER TABLE \"{schema}\".events \
             ALTER COLUMN payload TYPE jsonb, ALTER COLUMN metadata TYPE jsonb; \
         ALTER TABLE \"{schema}\".events_archive \
             ALTER COLUMN payload TYPE jsonb, ALTER COLUMN metadata TYPE jsonb; \
         ALTER TABLE \"{schema}\".snapshots ALTER COLUMN state TYPE jsonb"
    )))
    .execute(pool)
    .await
    .unwrap();
}

/// Runs the conformance suite on stores built with `configure`, each with
/// its columns made `jsonb` before the check; returns the column types
/// one of them had.
async fn conformance_on_jsonb(
    application: &str,
    configure: fn(PgStoreOptions) -> PgStoreOptions,
) -> Vec<(String, String, String)> {
    let pool = common::pool(6, application).await;
    let created = Arc::new(Mutex::new(Vec::new()));
    let report = conformance::run(|| {
        let created = created.clone();
        let pool = pool.clone();
        async move {
            let store = common::store_on(pool.clone(), configure).await;
            to_jsonb(&pool, store.schema()).await;
            created.lock().unwrap().push(store.clone());
            Subject::new(store.clone(), store.clone(), store)
        }
    })
    .await;
    println!("{report}");
    let stores: Vec<PgEventStore> = created.lock().unwrap().drain(..).collect();
    let checked = stores.first().map(|s| s.schema().to_owned());
    let types = match &checked {
        Some(schema) => column_types(&pool, schema).await,
        None => Vec::new(),
    };
    for store in &stores {
        common::drop_schema(store).await;
    }
    drop(stores);
    pool.close().await;
    report.assert_passed();
    types
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_jsonb_columns_passes_the_conformance_suite() {
    let types = conformance_on_jsonb("eventsource-conformance-jsonb", |o| o).await;
    assert_eq!(types.len(), 5);
    assert!(types.iter().all(|(_, _, t)| t == "jsonb"), "{types:?}");
}

/// Group commit writes through a statement of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_with_jsonb_columns_and_group_commit_passes_the_conformance_suite() {
    let types = conformance_on_jsonb("eventsource-conformance-jsonb-group", |o| {
        o.with_group_commit(2).with_writer_connections(2)
    })
    .await;
    assert_eq!(types.len(), 5);
    assert!(types.iter().all(|(_, _, t)| t == "jsonb"), "{types:?}");
}

/// The policies of a table, as `pg_policies` shows them.
async fn policies(pool: &PgPool, schema: &str) -> Vec<(String, String, String, String)> {
    sqlx::query_as(
        "SELECT tablename::text, policyname::text, coalesce(qual, ''), coalesce(with_check, '') \
         FROM pg_policies WHERE schemaname = $1 ORDER BY 1, 2",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexed_column_keeps_jsonb_and_policies_survive_the_conversion() {
    let pool = common::pool(4, "eventsource-tests").await;
    let options = PgStoreOptions::new(&common::unique_schema()).unwrap();
    let schema = options.schema().as_str().to_owned();
    PgConjoined::install(&pool, &options).await.unwrap();
    let installed = policies(&pool, &schema).await;
    assert!(
        installed
            .iter()
            .any(|(t, p, _, c)| t == "events" && p == "tenant_inserts" && c.contains("metadata")),
        "{installed:?}"
    );
    // Back to the columns of a conjoined store before migration 13 (the
    // tenant policy reads `metadata`, so it has to go for the change of
    // type), with a GIN index on the archived payloads, as a user who
    // queries them would have.
    let quoted = format!("\"{schema}\"");
    let inserts: String = sqlx::query_scalar(
        "SELECT format('CREATE POLICY tenant_inserts ON %I.events FOR INSERT WITH CHECK (%s)', \
             schemaname, with_check) \
         FROM pg_policies WHERE schemaname = $1 AND tablename = 'events' \
             AND policyname = 'tenant_inserts'",
    )
    .bind(&schema)
    .fetch_one(&pool)
    .await
    .unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DROP POLICY tenant_inserts ON {quoted}.events"
    )))
    .execute(&pool)
    .await
    .unwrap();
    to_jsonb(&pool, &schema).await;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "{inserts}; \
         CREATE INDEX archived_payloads ON {quoted}.events_archive USING gin (payload jsonb_path_ops); \
         DELETE FROM {quoted}.schema_migrations WHERE version = 13"
    )))
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(policies(&pool, &schema).await, installed);

    let store = PgEventStore::with_options(pool.clone(), options);
    assert_eq!(store.migrate().await.unwrap(), [13]);
    let types: Vec<(String, String)> = column_types(&pool, &schema)
        .await
        .into_iter()
        .map(|(t, c, ty)| (format!("{t}.{c}"), ty))
        .collect();
    let expected: Vec<(String, String)> = [
        ("events.metadata", "json"),
        // Indexed in the archive, so kept in both tables.
        ("events.payload", "jsonb"),
        ("events_archive.metadata", "json"),
        ("events_archive.payload", "jsonb"),
        ("snapshots.state", "json"),
    ]
    .iter()
    .map(|(c, t)| ((*c).to_owned(), (*t).to_owned()))
    .collect();
    assert_eq!(types, expected);
    assert_eq!(policies(&pool, &schema).await, installed);
    // The kept index still serves containment queries.
    store
        .append("a", AGG, ExpectedVersion::NoStream, common::batch(3))
        .await
        .unwrap();
    store.archive_streams(&["a".to_owned()]).await.unwrap();
    let found: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {quoted}.events_archive WHERE payload @> '{{\"i\": 1}}'"
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(found, 1);
    common::drop_schema(&store).await;
    pool.close().await;
}
