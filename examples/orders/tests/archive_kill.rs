//! The archive job as a real process (`orders admin archive run`), killed
//! with SIGKILL half-way and run again: every event is in exactly one of
//! the hot table and the archive, each stream moved whole or not at all,
//! none lost, none twice. Then the archive's status and an export through
//! the same CLI, read back; and a policy that matches nothing.
//!
//! PostgreSQL comes from `DATABASE_URL` (as `./scripts/test` provides).

#[path = "../../support/walkthrough.rs"]
mod walkthrough;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use eventsource::archive::read_export;
use eventsource::prelude::*;
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use serde_json::Value;
use sqlx::AssertSqlSafe;
use walkthrough::database_url;

const TYPE: &str = "archkill.Thing";
const STREAMS: u64 = 200;
const EVENTS: u64 = 300;

struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn admin(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_orders"));
        command
            .arg("admin")
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("ORDERS_SCHEMA", &self.name)
            .env_remove("RUST_LOG");
        command
    }
}

async fn scalar(store: &PgEventStore, sql: &str) -> i64 {
    let sql = sql.replace("{s}", &format!("\"{}\"", store.schema()));
    sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Checks that every seeded event is in exactly one place and that each
/// stream is either whole in the hot table or moved but for its last event.
/// Returns how many streams are archived.
async fn check_invariants(store: &PgEventStore, seeded: &BTreeSet<i64>) -> i64 {
    let hot = scalar(store, "SELECT count(*) FROM {s}.events").await;
    let archived = scalar(store, "SELECT count(*) FROM {s}.events_archive").await;
    let both = scalar(
        store,
        "SELECT count(*) FROM {s}.events h JOIN {s}.events_archive a USING (global_position)",
    )
    .await;
    assert_eq!(both, 0, "{both} events are both hot and archived");
    assert_eq!(
        (hot + archived) as u64,
        STREAMS * EVENTS,
        "{hot} hot and {archived} archived events; {} were appended",
        STREAMS * EVENTS
    );
    let positions: BTreeSet<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT global_position FROM \"{s}\".events UNION ALL \
         SELECT global_position FROM \"{s}\".events_archive",
        s = store.schema()
    )))
    .fetch_all(store.pool())
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert!(
        &positions == seeded,
        "the stored positions differ from the appended ones"
    );
    // Per stream: the archive holds versions 1..=n-1 or nothing; the hot
    // table the rest, contiguous.
    let partial = scalar(
        store,
        "SELECT count(*) FROM (
            SELECT stream_id, count(a.stream_version) AS moved, max(a.stream_version) AS top
            FROM (SELECT DISTINCT stream_id FROM {s}.events) AS s
            LEFT JOIN {s}.events_archive a USING (stream_id)
            GROUP BY stream_id
        ) AS t WHERE NOT (moved = 0 OR (moved = 299 AND top = 299))",
    )
    .await;
    assert_eq!(partial, 0, "{partial} streams are partly archived");
    scalar(
        store,
        "SELECT count(DISTINCT stream_id) FROM {s}.events_archive",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_job_killed_half_way_and_run_again_loses_nothing() {
    let schema = Schema {
        url: database_url("orders"),
        name: format!("archkill_{}", eventsource::uuid::Uuid::now_v7().simple()),
    };
    let store = PgEventStore::connect_with(&schema.url, PgStoreOptions::new(&schema.name).unwrap())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut seeded = BTreeSet::new();
    for stream in 0..STREAMS {
        let events = (0..EVENTS)
            .map(|n| {
                NewEvent::new(
                    "archkill.Noted",
                    1,
                    format!(r#"{{"stream":{stream},"n":{n}}}"#),
                    Metadata::new(),
                )
            })
            .collect();
        let done = store
            .append(
                &format!("thing-{stream:04}"),
                TYPE,
                ExpectedVersion::NoStream,
                events,
            )
            .await
            .unwrap();
        seeded.extend(done.first_position as i64..=done.last_position as i64);
    }
    assert_eq!(seeded.len() as u64, STREAMS * EVENTS);

    // One stream per transaction, a pause between: the kill lands mid-way.
    let mut child = schema
        .admin(&[
            "archive",
            "run",
            "--type",
            TYPE,
            "--older-than",
            "0",
            "--batch",
            "1",
            "--pause-ms",
            "20",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let archived = scalar(&store, "SELECT count(*) FROM {s}.events_archive").await;
        if archived >= 20 * (EVENTS as i64 - 1) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the job ended before it could be killed"
        );
        assert!(
            Instant::now() < deadline,
            "the job moved nothing for two minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the job was not killed: {status:?}");
    let archived_streams = check_invariants(&store, &seeded).await;
    println!("killed after {archived_streams} of {STREAMS} streams");
    assert!(archived_streams > 0 && (archived_streams as u64) < STREAMS);

    // Run again: it finishes the rest.
    let output = schema
        .admin(&[
            "archive",
            "run",
            "--type",
            TYPE,
            "--older-than",
            "0",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["streams_matched"], STREAMS);
    assert_eq!(
        report["events_moved"].as_u64().unwrap(),
        (STREAMS - archived_streams as u64) * (EVENTS - 1)
    );
    assert_eq!(check_invariants(&store, &seeded).await as u64, STREAMS);

    // Status and export, through the CLI; the export read back.
    let output = schema
        .admin(&["archive", "status", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let status: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status["events"].as_u64().unwrap(), STREAMS * (EVENTS - 1));
    assert_eq!(status["streams"].as_u64().unwrap(), STREAMS);
    let dir = std::env::temp_dir().join(&schema.name);
    let output = schema
        .admin(&[
            "archive",
            "export",
            dir.to_str().unwrap(),
            "--events-per-file",
            "25000",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let (manifest, events) = read_export(&dir).unwrap();
    assert_eq!(manifest.events, STREAMS * (EVENTS - 1));
    assert_eq!(manifest.files.len(), 3);
    let exported: BTreeSet<i64> = events.iter().map(|e| e.global_position as i64).collect();
    let archived: BTreeSet<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT global_position FROM \"{}\".events_archive",
        schema.name
    )))
    .fetch_all(store.pool())
    .await
    .unwrap()
    .into_iter()
    .collect();
    assert!(
        exported == archived,
        "the export holds other positions than the archive"
    );
    let _ = std::fs::remove_dir_all(&dir);

    // A policy that matches nothing: exit code 4, saying so.
    let output = schema
        .admin(&[
            "archive",
            "run",
            "--type",
            "archkill.Nothing",
            "--older-than",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("nothing to archive"), "{stderr}");

    // Truncation by policy with no snapshot to keep: exit code 4, nothing removed.
    let output = schema
        .admin(&["truncate", "--type", TYPE, "--keep-last", "1"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no stream of aggregate type"), "{stderr}");
    check_invariants(&store, &seeded).await;

    let drop = format!("DROP SCHEMA \"{}\" CASCADE", schema.name);
    sqlx::raw_sql(AssertSqlSafe(drop))
        .execute(store.pool())
        .await
        .unwrap();
}
