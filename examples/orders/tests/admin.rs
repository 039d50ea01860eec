//! The operations surface, end to end: every `orders admin` command on the
//! orders example's data in PostgreSQL (and in memory where it applies),
//! `--json` parsed and checked; pause, resume, rebuild, reset and
//! dead-letter retry and skip of projections owned by another process (the
//! `orders-worker` binary); `check` finding an unknown name and a newer
//! version; and the web console in a real headless Chromium.
//!
//! PostgreSQL comes from `DATABASE_URL` (as `./scripts/test` provides);
//! Chromium and chromedriver from `PATH` (`./scripts/test` installs
//! Debian's when it can). Without them these tests fail, saying what to
//! install.

#[path = "../../support/walkthrough.rs"]
mod walkthrough;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use assert_cmd::prelude::*;
use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::ops::Operations;
use eventsource::prelude::*;
use eventsource::projection::RunnerOptions;
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use walkthrough::{Example, database_url};

const EXAMPLE: Example = Example {
    name: "orders",
    exe: env!("CARGO_BIN_EXE_orders"),
    schema_var: "ORDERS_SCHEMA",
};

/// A schema of this test's own, dropped at the end.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    fn new(what: &str) -> Self {
        Self {
            url: database_url("orders"),
            name: format!(
                "orders_admin_{what}_{}",
                eventsource::uuid::Uuid::now_v7().simple()
            ),
        }
    }

    async fn store(&self) -> PgEventStore {
        PgEventStore::connect_with(&self.url, PgStoreOptions::new(&self.name).unwrap())
            .await
            .unwrap()
    }

    /// `orders admin <args>`, on this schema.
    fn admin(&self, args: &[&str]) -> Command {
        let mut command = Command::new(EXAMPLE.exe);
        command
            .arg("admin")
            .args(args)
            .env("DATABASE_URL", &self.url)
            .env("ORDERS_SCHEMA", &self.name)
            .env_remove("RUST_LOG");
        command
    }

    /// Runs `orders admin <args> --json`, expecting exit code `code`, and
    /// parses what it printed.
    fn json(&self, args: &[&str], code: i32) -> Value {
        run_json(self.admin(args).arg("--json"), code)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.name);
        let url = self.url.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

fn run_json(command: &mut Command, code: i32) -> Value {
    let output = command.output().expect("the orders binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{command:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{command:?} printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

/// The JSON lines `events tail --json` prints.
fn json_lines(mut command: Command) -> Vec<Value> {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn entry<'a>(list: &'a Value, key: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|v| v[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {list:#}"))
}

/// Polls `probe` until it holds, for at most `limit`.
fn eventually(what: &str, limit: Duration, mut probe: impl FnMut() -> bool) {
    let start = Instant::now();
    while !probe() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn every_command_on_the_orders_data_in_postgres() {
    let schema = Schema::new("cli");
    // The walkthrough's data: orders, inventory, payments, saga instances.
    EXAMPLE.run(Some(&schema.url), Some(&schema.name));

    let migrations = schema.json(&["migrate"], 0);
    assert!(!migrations.as_array().unwrap().is_empty());
    assert!(
        migrations
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["applied_at"].is_string()),
        "{migrations:#}"
    );
    let sql = schema.json(&["migrate", "sql"], 0);
    assert_eq!(sql["sql"], "");
    assert_eq!(
        schema.json(&["migrate", "apply"], 0)["applied"],
        serde_json::json!([])
    );

    let streams = schema.json(&["streams", "--type", "orders.Order"], 0);
    let streams = streams.as_array().unwrap();
    assert_eq!(streams.len(), 3, "{streams:#?}");
    let order = streams
        .iter()
        .find(|s| {
            s["stream_id"]
                .as_str()
                .unwrap()
                .starts_with("orders.Order-order-1-")
        })
        .unwrap_or_else(|| panic!("no order-1-: {streams:#?}"));
    let order_id = order["stream_id"].as_str().unwrap().to_owned();
    assert!(order["version"].as_u64().unwrap() >= 4);
    let prefixed = schema.json(&["streams", "--prefix", &order_id], 0);
    assert_eq!(prefixed.as_array().unwrap().len(), 1);

    let events = schema.json(&["stream", "show", &order_id], 0);
    let events = events.as_array().unwrap();
    assert_eq!(events.len() as u64, order["version"].as_u64().unwrap());
    assert_eq!(events[0]["event_name"], "orders.OrderPlaced");
    let placed_id = events[0]["payload"]["order_id"].as_str().unwrap();
    assert!(order_id.ends_with(placed_id), "{placed_id} in {order_id}");
    assert!(events.iter().all(|e| e["decode_error"].is_null()));
    let first = schema.json(&["stream", "show", &order_id, "--as-of-version", "1"], 0);
    assert_eq!(first.as_array().unwrap().len(), 1);
    let recorded = events[1]["recorded_at"].as_str().unwrap().to_owned();
    let upto = schema.json(
        &[
            "stream",
            "show",
            &order_id,
            "--as-of-time",
            &recorded,
            "--raw",
        ],
        0,
    );
    assert!(upto.as_array().unwrap().len() >= 2);
    schema.json(&["stream", "show", "no-such-stream"], 4);

    let tail = json_lines(schema.admin(&["events", "tail", "--json", "--last", "5"]));
    assert_eq!(tail.len(), 5);
    let placed = json_lines(schema.admin(&[
        "events",
        "tail",
        "--json",
        "--from-position",
        "1",
        "--event",
        "orders.OrderPlaced",
        "--max",
        "2",
    ]));
    assert_eq!(placed.len(), 2);
    assert!(
        placed
            .iter()
            .all(|e| e["event_name"] == "orders.OrderPlaced")
    );
    let followed = json_lines(schema.admin(&[
        "events",
        "tail",
        "--json",
        "--from-time",
        "2000-01-01T00:00:00Z",
        "--follow",
        "--max",
        "3",
    ]));
    assert_eq!(followed.len(), 3);

    let projections = schema.json(&["projections"], 0);
    for name in ["orders.summary.postgres", "orders.fulfilment"] {
        let p = entry(&projections, "name", name);
        assert_eq!(p["lag"], 0, "{p:#}");
        assert!(p["checkpoint"].as_u64().unwrap() > 0);
        assert_eq!(p["phase"], "stopped", "the walkthrough has exited: {p:#}");
        assert_eq!(p["parked"], 0);
        assert_eq!(p["active"], true);
    }
    assert_eq!(
        entry(&projections, "name", "orders.fulfilment")["kind"],
        "saga"
    );
    // The in-memory summary runs only in memory: this store never saw it.
    assert_eq!(
        entry(&projections, "name", "orders.summary.memory")["phase"],
        "never_run"
    );
    assert_eq!(
        schema.json(&["projections", "--requests"], 0),
        serde_json::json!([])
    );

    assert_eq!(schema.json(&["dead-letters"], 0), serde_json::json!([]));

    let sagas = schema.json(&["sagas"], 0);
    let sagas = sagas.as_array().unwrap();
    assert!(sagas.len() >= 2, "{sagas:#?}");
    let completed = schema.json(&["sagas", "list", "--state", "completed"], 0);
    assert!(
        completed
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["completed"] == true)
    );
    let id = sagas[0]["correlation_id"].as_str().unwrap();
    let one = schema.json(&["sagas", "show", "orders.fulfilment", id], 0);
    assert_eq!(one["correlation_id"], id);
    schema.json(&["sagas", "list", "--saga", "no.such.saga"], 4);

    let registry = schema.json(&["registry"], 0);
    entry(&registry["events"], "name", "orders.OrderPlaced");
    entry(&registry["aggregates"], "name", "orders.Order");
    entry(&registry["projections"], "name", "orders.summary.postgres");
    entry(&registry["sagas"], "name", "orders.fulfilment");
    assert_eq!(registry["problems"], serde_json::json!([]));

    let clean = schema.json(&["check"], 0);
    assert_eq!(clean["problems"], serde_json::json!([]));
    assert!(clean["events"].as_u64().unwrap() > 10);

    // A name this program does not know, and a version newer than it knows.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = schema.store().await;
        let unknown = NewEvent::new("orders.Refunded", 1, r#"{"amount":5}"#, Metadata::new());
        let newer = NewEvent::new(
            "orders.OrderPlaced",
            9,
            r#"{"order_id":"x"}"#,
            Metadata::new(),
        );
        store
            .append(
                "refund-1",
                "orders.Refund",
                ExpectedVersion::Any,
                vec![unknown],
            )
            .await
            .unwrap();
        store
            .append(
                "order-future",
                "orders.Order",
                ExpectedVersion::Any,
                vec![newer],
            )
            .await
            .unwrap();
    });
    let report = schema.json(&["check"], 3);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 2, "{report:#}");
    let refunded = entry(&report["problems"], "event_name", "orders.Refunded");
    assert_eq!(refunded["problem"]["problem"], "unknown_name");
    assert_eq!(refunded["count"], 1);
    let newer = entry(&report["problems"], "event_name", "orders.OrderPlaced");
    assert_eq!(newer["problem"]["problem"], "newer_version");
    assert_eq!(newer["schema_version"], 9);
    assert!(
        newer["read_by"]
            .as_array()
            .unwrap()
            .contains(&Value::from("projection orders.summary.postgres"))
    );
    // The table says the same for people.
    let table = schema.admin(&["check"]).output().unwrap();
    assert_eq!(table.status.code(), Some(3));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("orders.Refunded") && text.contains("newer than"),
        "{text}"
    );
    assert!(!text.contains('\u{1b}'), "no colour off a terminal: {text}");

    schema.json(&["pause", "no.such.projection"], 4);
    schema.admin(&["no-such-command"]).assert().code(2);
    // Last: it appends, and the checks above expect the walkthrough's data.
    tail_ends_when_its_reader_goes(&schema);
}

#[test]
fn commands_in_memory() {
    let admin = |args: &[&str]| {
        let mut command = Command::new(EXAMPLE.exe);
        command
            .arg("admin")
            .args(args)
            .arg("--json")
            .env_remove("DATABASE_URL");
        command
    };
    let registry = run_json(&mut admin(&["registry"]), 0);
    entry(&registry["events"], "name", "orders.OrderPlaced");
    let check = run_json(&mut admin(&["check"]), 0);
    assert_eq!(check["scanned"], 0);
    let projections = run_json(&mut admin(&["projections"]), 0);
    assert_eq!(
        entry(&projections, "name", "orders.summary.memory")["phase"],
        "never_run"
    );
    assert_eq!(run_json(&mut admin(&["sagas"]), 0), serde_json::json!([]));
    assert_eq!(run_json(&mut admin(&["streams"]), 0), serde_json::json!([]));
    assert_eq!(
        run_json(&mut admin(&["dead-letters"]), 0),
        serde_json::json!([])
    );
    run_json(&mut admin(&["migrate"]), 6);
}

/// `registry --graph`, `--catalogue`, `--check-lock`, `--update-lock` and
/// `--check-payloads` through the orders binary, in memory.
#[test]
fn registry_views_and_checks_in_memory() {
    let admin = |args: &[&str]| {
        let mut command = Command::new(EXAMPLE.exe);
        command.arg("admin").args(args).env_remove("DATABASE_URL");
        command
    };
    let text = |command: &mut Command, code: i32| {
        let output = command.output().expect("the orders binary runs");
        assert_eq!(
            output.status.code(),
            Some(code),
            "{command:?}\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // The binary's chart is the one the README shows (this test's own
    // registry holds its test types too).
    let readme = include_str!("../../../README.md");
    let chart = readme
        .split("<!-- orders-flow:start -->\n```mermaid\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- orders-flow:end -->").next())
        .expect("the README's chart");
    assert_eq!(text(&mut admin(&["registry", "--graph"]), 0), chart);
    let svg = text(&mut admin(&["registry", "--graph", "--format", "svg"]), 0);
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let json = run_json(&mut admin(&["registry", "--graph", "--format", "json"]), 0);
    assert_eq!(
        json["edges"].as_array().map(Vec::len),
        Some(chart.matches(" --> ").count())
    );
    let registry = run_json(&mut admin(&["registry", "--json"]), 0);
    let fulfilment = entry(&registry["sagas"], "name", "orders.fulfilment");
    assert_eq!(fulfilment["dispatches"].as_array().map(Vec::len), Some(5));
    assert!(
        entry(&registry["projections"], "name", "orders.summary.memory")["dispatches"].is_null()
    );
    let catalogue = text(&mut admin(&["registry", "--catalogue"]), 0);
    assert!(catalogue.contains("## `orders.OrderPlaced`"), "{catalogue}");
    let catalogue = run_json(&mut admin(&["registry", "--catalogue", "--json"]), 0);
    entry(&catalogue["events"], "name", "orders.PaymentTaken");

    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/events.lock.json");
    let up_to_date = text(
        &mut admin(&["registry", "--check-lock", "--lock", committed]),
        0,
    );
    assert!(
        up_to_date.ends_with("the schema lock is up to date\n"),
        "{up_to_date}"
    );

    // The committed lock with `total` of OrderSubmitted's version 1 gone
    // from the code's point of view: recorded as a string instead.
    let dir = std::env::temp_dir().join(format!("orders-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut lock: Value =
        serde_json::from_str(&std::fs::read_to_string(committed).unwrap()).unwrap();
    lock["events"]["orders.OrderSubmitted"]["versions"]["1"]["properties"]["total"]["type"] =
        Value::from("string");
    let changed = dir.join("events.lock.json");
    std::fs::write(&changed, serde_json::to_string_pretty(&lock).unwrap()).unwrap();
    let changed = changed.to_str().unwrap();
    let breaking = text(
        &mut admin(&["registry", "--check-lock", "--lock", changed]),
        3,
    );
    assert!(
        breaking.starts_with("breaking: event `orders.OrderSubmitted` version 1: field `total` changed type from string to integer; stored payloads of version 1 may no longer decode: bump the version (`#[event(name = \"orders.OrderSubmitted\", version = 2)]`) and add an upcaster from version 1 (`#[upcaster(event = \"orders.OrderSubmitted\", from = 1)]`)\n"),
        "{breaking}"
    );
    text(
        &mut admin(&["registry", "--update-lock", "--lock", changed]),
        3,
    );
    // A fresh lock is written, then checks clean.
    let fresh = dir.join("fresh.lock.json");
    let fresh = fresh.to_str().unwrap();
    text(
        &mut admin(&["registry", "--check-lock", "--lock", fresh]),
        3,
    );
    text(
        &mut admin(&["registry", "--update-lock", "--lock", fresh]),
        0,
    );
    text(
        &mut admin(&["registry", "--check-lock", "--lock", fresh]),
        0,
    );

    let payloads = run_json(
        &mut admin(&["registry", "--check-payloads", "--sample", "2", "--json"]),
        0,
    );
    assert_eq!(payloads["checked"], 0);
    admin(&["registry", "--graph", "--catalogue"])
        .assert()
        .code(2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The worker process owning the projections of a schema.
struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    owner: String,
}

impl Worker {
    fn start(schema: &Schema) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_orders-worker"))
            .env("DATABASE_URL", &schema.url)
            .env("ORDERS_SCHEMA", &schema.name)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the worker starts");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let owner = line
            .trim()
            .strip_prefix("owner ")
            .unwrap_or_else(|| panic!("the worker printed {line:?}"))
            .to_owned();
        Self {
            child,
            stdin,
            owner,
        }
    }

    fn stop(mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `orders admin events tail --follow | head -1`: once the reader has gone,
/// the next event ends the tail quietly (no panic on the closed pipe).
fn tail_ends_when_its_reader_goes(schema: &Schema) {
    let mut tail = schema
        .admin(&["events", "tail", "--json", "--last", "1", "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(tail.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("global_position"), "{first}");
    // The reader is dropped here: the pipe is closed.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(schema.store());
    let start = Instant::now();
    let status = loop {
        runtime.block_on(place_orders(&store, 1));
        if let Some(status) = tail.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = tail.kill();
            panic!("the tail still runs 30 s after its reader went");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut tail.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

async fn place_orders(store: &PgEventStore, count: usize) {
    let bus = CommandBus::new(store.clone()).unwrap();
    for _ in 0..count {
        let id = format!("order-{}", eventsource::uuid::Uuid::now_v7().simple());
        bus.dispatch(orders::order::PlaceOrder {
            order_id: id,
            customer: "ops".into(),
        })
        .await
        .unwrap();
    }
}

#[test]
fn pause_resume_rebuild_reset_retry_and_skip_a_projection_owned_by_another_process() {
    let schema = Schema::new("control");
    let summary = "orders.summary.postgres";
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let store = runtime.block_on(schema.store());
    assert_eq!(
        schema.json(&["migrate", "status"], 0).as_array().unwrap()[0]["applied_at"],
        Value::Null
    );
    schema.json(&["migrate", "apply"], 0);
    runtime.block_on(place_orders(&store, 5));

    let worker = Worker::start(&schema);
    let info = |name: &str| entry(&schema.json(&["projections"], 0), "slot", name).clone();
    eventually("the worker catches up", Duration::from_secs(30), || {
        let p = info(summary);
        p["lag"] == 0 && p["phase"] == "live" && p["owner"] == worker.owner.as_str()
    });

    // Pause: the owner acknowledges, keeps its lease, and stops handling events.
    let paused = schema.json(&["pause", summary, "--by", "ops-test"], 0);
    assert_eq!(paused["status"], "done", "{paused:#}");
    assert_eq!(paused["handled_by"], worker.owner.as_str());
    assert_eq!(paused["requested_by"], "ops-test");
    runtime.block_on(place_orders(&store, 3));
    std::thread::sleep(Duration::from_secs(2));
    let p = info(summary);
    assert_eq!(p["phase"], "paused", "{p:#}");
    assert_eq!(p["lag"], 3, "{p:#}");
    assert_eq!(p["owner"], worker.owner.as_str());
    assert!(p["lag_seconds"].as_f64().unwrap() > 0.0);
    // The saga was not paused.
    eventually("the saga goes on", Duration::from_secs(10), || {
        info("orders.fulfilment")["lag"] == 0
    });

    // Resume: it catches up.
    let resumed = schema.json(&["resume", summary], 0);
    assert_eq!(resumed["status"], "done");
    eventually("the summary catches up", Duration::from_secs(30), || {
        let p = info(summary);
        p["lag"] == 0 && p["phase"] == "live"
    });

    // Rebuild: cleared and replayed by the owner; the CLI returns once live.
    let rebuilt = schema.json(&["rebuild", summary], 0);
    assert_eq!(rebuilt["status"], "done", "{rebuilt:#}");
    assert!(
        rebuilt["outcome"]
            .as_str()
            .unwrap()
            .starts_with("replayed 8 events"),
        "{rebuilt:#}"
    );
    let rows: i64 = runtime.block_on(async {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{}\".order_summaries",
            schema.name
        )))
        .fetch_one(store.pool())
        .await
        .unwrap()
    });
    assert_eq!(rows, 8);
    // A saga cannot be rebuilt: the owner says why.
    let refused = schema
        .admin(&["rebuild", "orders.fulfilment"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no #[reset] method"));

    // Reset: the checkpoint moves where asked.
    let checkpoint = info(summary)["checkpoint"].as_u64().unwrap();
    let reset = schema.json(
        &["reset", summary, "--to-position", &checkpoint.to_string()],
        0,
    );
    assert_eq!(reset["status"], "done", "{reset:#}");
    assert!(
        reset["outcome"]
            .as_str()
            .unwrap()
            .ends_with(&format!(" to {checkpoint}")),
        "{reset:#}"
    );
    assert!(info(summary)["checkpoint"].as_u64().unwrap() >= checkpoint);

    // A payload that does not fit its type is parked.
    runtime.block_on(async {
        let bad = NewEvent::new(
            "orders.OrderPlaced",
            1,
            r#"{"wrong":true}"#,
            Metadata::new(),
        );
        store
            .append("order-bad", "orders.Order", ExpectedVersion::Any, vec![bad])
            .await
            .unwrap();
    });
    eventually("the bad event is parked", Duration::from_secs(30), || {
        info(summary)["parked"] == 1
    });
    let parked = schema.json(&["dead-letters", "list", "--projection", summary], 0);
    let position = parked[0]["global_position"].as_u64().unwrap().to_string();
    let shown = schema.json(&["dead-letters", "show", summary, &position], 0);
    assert_eq!(shown["stream_id"], "order-bad");
    assert!(shown["payload"].as_str().unwrap().contains("wrong"));
    assert!(
        shown["error"].as_str().unwrap().contains("cannot decode"),
        "{shown:#}"
    );
    // Retried by the owner, it fails again and stays parked.
    let retried = schema
        .admin(&["dead-letters", "retry", summary, &position])
        .output()
        .unwrap();
    assert_eq!(retried.status.code(), Some(1), "{retried:?}");
    assert_eq!(info(summary)["parked"], 1);
    // Skipped with a reason: it leaves the list, and the reason is kept.
    let skipped = schema.json(
        &[
            "dead-letters",
            "skip",
            summary,
            &position,
            "--reason",
            "test import, not a real order",
            "--by",
            "ops-test",
        ],
        0,
    );
    assert_eq!(skipped["reason"], "test import, not a real order");
    assert_eq!(schema.json(&["dead-letters"], 0), serde_json::json!([]));
    let kept = schema.json(&["dead-letters", "skipped", summary], 0);
    assert_eq!(kept[0]["reason"], "test import, not a real order");
    assert_eq!(kept[0]["skipped_by"], "ops-test");
    assert_eq!(info(summary)["parked"], 0);

    let history = schema.json(&["projections", "--requests"], 0);
    assert!(history.as_array().unwrap().len() >= 6, "{history:#}");

    // With no owner running, nothing takes a request up: the CLI says so.
    worker.stop();
    let timed_out = schema
        .admin(&["rebuild", summary, "--timeout", "1"])
        .output()
        .unwrap();
    assert_eq!(timed_out.status.code(), Some(5), "{timed_out:?}");
    let history = schema.json(&["projections", "--requests"], 0);
    assert_eq!(history[0]["status"], "cancelled", "{history:#}");
}

// --- the console in a real browser -----------------------------------------

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "console_test.Ticked")]
struct Ticked {
    poison: bool,
}

/// A read model that fails on poisoned events while `FAIL` is set.
#[derive(Clone, Default)]
struct Ticks {
    fail: Arc<AtomicBool>,
}

#[projection(name = "console_test.ticks")]
impl Ticks {
    async fn on_ticked(&mut self, e: &Ticked) -> Result<(), ProjectionError> {
        if e.poison && self.fail.load(Ordering::SeqCst) {
            return Err(ProjectionError::handler("poisoned tick"));
        }
        Ok(())
    }
}

/// Finds a program on `PATH`, or fails saying what to install.
fn program(names: &[&str]) -> std::path::PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "{} not found on PATH: the console test drives a real headless Chromium; install \
         Debian's `chromium` and `chromium-driver` (apt-get install -y chromium chromium-driver), \
         or run ./scripts/test, which does so when it can",
        names.join(" or ")
    );
}

/// chromedriver on a free port, killed on drop.
struct Driver(Child, u16);

impl Driver {
    fn start() -> Self {
        let driver = program(&["chromedriver"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child, port)
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> fantoccini::Client {
    let chromium = program(&["chromium", "chromium-browser", "google-chrome"]);
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    // The WebDriver client speaks rustls (over plain HTTP here), which
    // wants a crypto provider chosen once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    fantoccini::ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .expect("a Chromium session")
}

/// Polls the page with `script` until `done` says so.
async fn watch_page(
    client: &fantoccini::Client,
    script: &str,
    limit: Duration,
    mut done: impl FnMut(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let value = client.execute(script, vec![]).await.unwrap();
        if done(&value) {
            return value;
        }
        if start.elapsed() > limit {
            let page = client
                .execute("return document.body.innerText;", vec![])
                .await
                .unwrap_or_default();
            panic!("the page never showed it; last: {value:#}\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Clicks the button `selector` finds. The live tables are redrawn as data
/// arrives, so the button is found and clicked in one step in the page.
async fn click(client: &fantoccini::Client, selector: &str) {
    let clicked = client
        .execute(
            "const b = document.querySelector(arguments[0]); if (b) { b.click(); } return !!b;",
            vec![Value::from(selector)],
        )
        .await
        .unwrap();
    assert_eq!(clicked, true, "no button {selector}");
}

async fn append(store: &InMemoryStore, n: u64, poison: bool) {
    for _ in 0..n {
        let event = NewEvent::from_event(&Ticked { poison }, Metadata::new()).unwrap();
        store
            .append(
                "clock",
                "console_test.Clock",
                ExpectedVersion::Any,
                vec![event],
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_headless_browser() {
    let store = InMemoryStore::new();
    let backend = InMemoryProjectionBackend::new();
    let runner = ProjectionRunner::new(store.clone()).unwrap().with_options(
        RunnerOptions::default()
            .with_max_retries(0)
            .with_control_poll(Duration::from_millis(100)),
    );
    let ticks = Ticks::default();
    runner.start(ticks.clone(), backend.clone()).await.unwrap();
    let ops = Operations::new(store.clone())
        .with_runner(&runner)
        .with_catalog(backend);
    let app = axum::Router::new().nest(
        "/admin",
        eventsource_admin::Console::new(ops.clone())
            .at("/admin")
            .with_actions(true)
            .with_refresh(Duration::from_millis(100))
            .router(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let driver = Driver::start();
    let profile = std::env::temp_dir().join(format!(
        "eventsource-console-{}",
        eventsource::uuid::Uuid::now_v7().simple()
    ));
    let client = browser(&driver, &profile).await;
    client
        .goto(&format!("http://{address}/admin"))
        .await
        .unwrap();
    let row = "const r = document.querySelector('tr[data-slot=\"console_test.ticks\"]'); \
               return r ? {lag: Number(r.querySelector('.lag').textContent), \
               head: Number(r.querySelector('.head').textContent), \
               phase: r.querySelector('.phase').textContent} : null;";

    // Paused, the projection falls behind while events are appended ...
    let pause = ops
        .request(
            "console_test.ticks",
            eventsource::projection::ControlCommand::Pause,
            None,
        )
        .await
        .unwrap();
    ops.await_request(
        pause.id,
        eventsource::ops::Until::Final,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    append(&store, 50, false).await;
    let behind = watch_page(&client, row, Duration::from_secs(20), |v| {
        v["lag"].as_u64() == Some(50)
    })
    .await;
    assert_eq!(behind["phase"], "paused");

    // ... and, resumed from the page while events keep coming, the lag the
    // page shows falls to zero.
    let appending = tokio::spawn({
        let store = store.clone();
        async move {
            for _ in 0..20 {
                append(&store, 5, false).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    click(
        &client,
        "tr[data-slot=\"console_test.ticks\"] button.resume",
    )
    .await;
    let settled = watch_page(&client, row, Duration::from_secs(30), |v| {
        appending.is_finished() && v["lag"] == 0 && v["head"] == 150
    })
    .await;
    assert_eq!(settled["phase"], "live");

    // A parked event is retried by its button, and leaves the list.
    ticks.fail.store(true, Ordering::SeqCst);
    append(&store, 1, true).await;
    client
        .goto(&format!("http://{address}/admin/dead-letters"))
        .await
        .unwrap();
    let parked = "return Array.from(document.querySelectorAll('#dead-letters tr')).map(r => r.dataset.position);";
    let listed = watch_page(&client, parked, Duration::from_secs(20), |v| {
        v.as_array().is_some_and(|a| a.len() == 1)
    })
    .await;
    assert_eq!(listed[0], "151");
    ticks.fail.store(false, Ordering::SeqCst);
    click(&client, "#dead-letters button.retry").await;
    watch_page(&client, parked, Duration::from_secs(20), |v| {
        v.as_array().is_some_and(|a| a.is_empty())
    })
    .await;
    assert!(
        runner
            .parked("console_test.ticks")
            .await
            .unwrap()
            .is_empty()
    );

    // The other pages render what the library says.
    client
        .goto(&format!("http://{address}/admin/streams/clock"))
        .await
        .unwrap();
    let events = client
        .execute(
            "return document.querySelectorAll('tr.event').length;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(events, 151);
    client
        .goto(&format!("http://{address}/admin/check"))
        .await
        .unwrap();
    let verdict = client
        .find(fantoccini::Locator::Id("verdict"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        verdict.starts_with("This program decodes every event"),
        "{verdict}"
    );

    // The registry page draws the event flow; the catalogue lists events.
    client
        .goto(&format!("http://{address}/admin/registry"))
        .await
        .unwrap();
    let drawn = client
        .execute(
            "return Array.from(document.querySelectorAll('.flow svg text')).map(t => t.textContent.trim());",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        drawn
            .as_array()
            .is_some_and(|t| t.contains(&Value::from("event: console_test.Ticked"))
                && t.contains(&Value::from("projection: console_test.ticks"))),
        "{drawn:#}"
    );
    client
        .goto(&format!("http://{address}/admin/catalogue"))
        .await
        .unwrap();
    let heading = client
        .find(fantoccini::Locator::Id("console_test.Ticked"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(heading, "console_test.Ticked");
    let svg = reqwest::get(format!("http://{address}/admin/registry/graph.svg"))
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    roxmltree::Document::parse(&svg.text().await.unwrap()).expect("well-formed SVG");
    let catalogue: Value = reqwest::get(format!("http://{address}/admin/api/catalogue"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    entry(&catalogue["events"], "name", "console_test.Ticked");
    let graph: Value = reqwest::get(format!("http://{address}/admin/api/registry/graph"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    entry(&graph["nodes"], "id", "event:console_test.Ticked");

    client.close().await.unwrap();
    drop(driver);
    let _ = std::fs::remove_dir_all(&profile);
    runner.shutdown().await;
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "admin_part.Noted")]
struct PartNoted {
    n: u64,
}

/// A partitioned projection run by this test's process, seen by the
/// `orders admin` of another process through the store.
struct PartNotes;

#[projection(name = "admin_part.notes", partitions = 4)]
impl PartNotes {
    async fn on_noted(&mut self, _e: &PartNoted) {}
}

const PART_NOTES: &str = "admin_part.notes";

async fn note(store: &PgEventStore, streams: std::ops::Range<u64>) -> u64 {
    let mut last = 0;
    for s in streams {
        let event = NewEvent::from_event(&PartNoted { n: s }, Metadata::new()).unwrap();
        last = store
            .append(
                &format!("part-note-{s}"),
                "admin_part.Note",
                ExpectedVersion::Any,
                vec![event],
            )
            .await
            .unwrap()
            .last_position;
    }
    last
}

#[test]
fn projections_fold_and_list_the_partitions_of_a_partitioned_projection() {
    let schema = Schema::new("partitions");
    schema.json(&["migrate", "apply"], 0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (store, runner) = runtime.block_on(async {
        let store = schema.store().await;
        let runner = ProjectionRunner::new(store.clone()).unwrap().with_options(
            RunnerOptions::default()
                .with_lease_ttl(Duration::from_secs(5))
                .with_standby_poll(Duration::from_millis(100)),
        );
        runner
            .start(PartNotes, store.projection_backend())
            .await
            .unwrap();
        let last = note(&store, 0..12).await;
        runner
            .wait_until(PART_NOTES, last, Duration::from_secs(60))
            .await
            .unwrap();
        (store, runner)
    });
    let owner = runner.owner().to_string();

    // Held and live: every partition listed with its holder and checkpoint;
    // the version's checkpoint is the lowest of theirs, its lag their sum.
    let mut info = Value::Null;
    eventually("every partition held", Duration::from_secs(60), || {
        info = entry(&schema.json(&["projections"], 0), "name", PART_NOTES).clone();
        info["partitions"]
            .as_array()
            .is_some_and(|p| p.len() == 4 && p.iter().all(|p| p["owner"] == owner.as_str()))
    });
    let parts = info["partitions"].as_array().unwrap().clone();
    for (i, part) in parts.iter().enumerate() {
        assert_eq!(part["index"], i as u64, "{part:#}");
        assert_eq!(part["count"], 4, "{part:#}");
        assert_eq!(part["slot"], format!("{PART_NOTES}#p{i}/4"), "{part:#}");
        assert_eq!(part["lag"], 0, "{part:#}");
        assert!(part["checkpoint"].as_u64().is_some(), "{part:#}");
    }
    let lowest = parts
        .iter()
        .filter_map(|p| p["checkpoint"].as_u64())
        .min()
        .unwrap();
    assert_eq!(info["checkpoint"], lowest, "{info:#}");
    assert_eq!(info["lag"], 0, "{info:#}");
    assert_eq!(info["phase"], "live", "{info:#}");
    assert_eq!(info["owner"], owner.as_str(), "{info:#}");
    assert!(
        info["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e.as_str().unwrap().starts_with('#')),
        "{info:#}"
    );

    // Stopped, with events after: the lag is the sum of the partitions'.
    runtime.block_on(async {
        runner.shutdown().await;
        note(&store, 100..105).await;
    });
    let info = entry(&schema.json(&["projections"], 0), "name", PART_NOTES).clone();
    let parts = info["partitions"].as_array().unwrap();
    let summed: u64 = parts.iter().map(|p| p["lag"].as_u64().unwrap()).sum();
    assert_eq!(summed, 5, "{info:#}");
    assert_eq!(info["lag"], 5, "{info:#}");
    assert_eq!(info["phase"], "stopped", "{info:#}");
    assert!(parts.iter().all(|p| p["owner"].is_null()), "{info:#}");

    // The table: one row per partition with --partitions, none without.
    let rows = schema
        .admin(&["projections", "--partitions"])
        .output()
        .unwrap();
    assert!(rows.status.success(), "{rows:?}");
    let rows = String::from_utf8_lossy(&rows.stdout);
    for i in 0..4 {
        assert!(rows.contains(&format!("{PART_NOTES}#p{i}/4")), "{rows}");
    }
    let folded = schema.admin(&["projections"]).output().unwrap();
    assert!(folded.status.success(), "{folded:?}");
    assert!(
        !String::from_utf8_lossy(&folded.stdout).contains("#p0/4"),
        "{folded:?}"
    );
}
