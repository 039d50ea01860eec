//! A reader held back by an open transaction says which one, once.

mod common;

use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use eventsource::store::{EventFilter, EventStore, ExpectedVersion, SubscriptionItem};
use eventsource::{Metadata, NewEvent, RecordedEvent};
use futures::{StreamExt, TryStreamExt};
use tracing_subscriber::fmt::MakeWriter;

const AGG: &str = "test.Thing";
const READERS: [&str; 3] = ["subscription", "read_all", "count_events"];

/// Everything logged, as text.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// Stall warnings naming transaction `xid`. The server is shared with
    /// other sessions, whose transactions may stall readers too: those
    /// warnings are not this test's business.
    fn warnings_about(&self, xid: &str) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| l.contains("WARN") && l.contains(&format!(" xid={xid} ")))
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The log of this test binary, captured from its first use on.
fn capture() -> Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let capture = Capture::default();
            tracing_subscriber::fmt()
                .with_writer(capture.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::WARN)
                .init();
            capture
        })
        .clone()
}

fn by_reader(lines: &[String], reader: &str) -> usize {
    let field = format!("reader=\"{reader}\"");
    lines.iter().filter(|l| l.contains(&field)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_names_the_open_transaction_once() {
    let capture = capture();
    let store = common::store_with(8, |o| {
        o.with_stall_warning(Some(Duration::from_millis(200)))
    })
    .await;

    // An older transaction takes an id and then idles, as a forgotten
    // session would; a younger append commits above it.
    let mut idle = store.pool().begin().await.unwrap();
    let (pid, xid): (i32, String) =
        sqlx::query_as("SELECT pg_backend_pid(), pg_current_xact_id()::text")
            .fetch_one(&mut *idle)
            .await
            .unwrap();
    let event = NewEvent::new("test.Happened", 1, "{}", Metadata::new());
    let written = store
        .append("s", AGG, ExpectedVersion::NoStream, vec![event])
        .await
        .unwrap();

    let mut sub = store.subscribe(0, EventFilter::all());
    let subscribed = tokio::spawn(async move {
        while let Some(item) = sub.next().await {
            if let SubscriptionItem::Event(e) = item.unwrap() {
                return Some(e.global_position);
            }
        }
        None
    });
    let read = {
        let store = store.clone();
        tokio::spawn(async move {
            let all: Vec<RecordedEvent> = store
                .read_all(0, EventFilter::all())
                .try_collect()
                .await
                .unwrap();
            all.iter().map(|e| e.global_position).collect::<Vec<_>>()
        })
    };
    let counted = {
        let store = store.clone();
        tokio::spawn(async move { store.count_events(0, EventFilter::all()).await.unwrap() })
    };

    // Hang guard only: each warning is due after 200 ms of waiting.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let lines = capture.warnings_about(&xid);
        if READERS.iter().all(|r| by_reader(&lines, r) > 0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not every reader warned about transaction {xid}; log so far:\n{}",
            capture.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !subscribed.is_finished() && !read.is_finished() && !counted.is_finished(),
        "a reader went past an open transaction"
    );
    for line in capture.warnings_about(&xid) {
        println!("{line}");
        assert!(line.contains(&format!("pid={pid}")), "{line}");
        assert!(line.contains("state=idle in transaction"), "{line}");
        assert!(line.contains("xid_age="), "{line}");
    }

    idle.commit().await.unwrap();
    assert_eq!(subscribed.await.unwrap(), Some(written.first_position));
    assert_eq!(read.await.unwrap(), [written.first_position]);
    assert_eq!(counted.await.unwrap(), 1);
    // Each reader re-checked throughout the stall, and warned once
    // (`Stall`'s unit tests pin the once-per-stall rule itself).
    let lines = capture.warnings_about(&xid);
    for reader in READERS {
        assert_eq!(by_reader(&lines, reader), 1, "{reader}: {lines:#?}");
    }
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_stuck_above_the_transaction_counter_says_why() {
    let capture = capture();
    let store = common::store_with(8, |o| {
        o.with_stall_warning(Some(Duration::from_millis(200)))
    })
    .await;
    // A row as a restored dump from a cluster far ahead would leave it.
    let next: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let xid = next + 1_000_000;
    let sql = format!(
        "INSERT INTO \"{}\".events (global_position, transaction_id, stream_id, aggregate_type, \
             stream_version, event_id, event_name, schema_version, payload, metadata) \
         VALUES ($1 * 65536 + 1, $1::text::xid8, 'restored', $2, 1, gen_random_uuid(), \
             'test.Happened', 1, '{{}}', '{{}}')",
        store.schema()
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(xid)
        .bind(AGG)
        .execute(store.pool())
        .await
        .unwrap();

    // read_all waits for the transactions that could still commit below
    // the row, which are the next million; it must say so.
    let reader = {
        let store = store.clone();
        tokio::spawn(async move {
            let _ = store
                .read_all(0, EventFilter::all())
                .try_collect::<Vec<_>>()
                .await;
        })
    };
    let wanted = format!("schema=\"{}\"", store.schema());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let line = loop {
        let found = capture
            .text()
            .lines()
            .find(|l| l.contains("WARN") && l.contains(&wanted))
            .map(str::to_owned);
        if let Some(line) = found {
            break line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no stall warning for {wanted}; log so far:\n{}",
            capture.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(line.contains("reader=\"read_all\""), "{line}");
    assert!(
        line.contains("transaction-id counter") && line.contains("pg_resetwal -e"),
        "the warning does not name the cause: {line}"
    );
    reader.abort();
    let _ = reader.await;
    common::drop_schema(&store).await;
}
