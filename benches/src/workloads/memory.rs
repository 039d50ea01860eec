//! Workload 14: the memory the in-memory store holds per event beyond the
//! text of its payload and metadata.
//!
//! Each case runs in a fresh process (the harness runs itself with
//! `--memory-child BATCH EVENTS`), which reads its resident set before and
//! after the appends: a process that ran other workloads would reuse memory
//! they freed and show less than the store holds.

use std::process::Command;

use eventsource::memory::InMemoryStore;
use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, NewEvent};

use crate::domain::Account;
use crate::domain::mix::{self, Schema};
use crate::measure::{Comparison, Settings, Summary};
use crate::report::{Body, Row, Section, Target};

/// Streams the events are spread over.
const STREAMS: usize = 1_000;

/// The most bytes per event the store may hold beyond the events' text.
const BUDGET: f64 = 200.0;

/// Appends the same events with one and with ten events per append.
pub(crate) fn run(settings: &Settings) -> Section {
    let events = if settings.quick { 50_000 } else { 500_000 };
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for batch in [1, 10] {
        let case = match batch {
            1 => "one event per append".to_owned(),
            n => format!("{n} events per append"),
        };
        match in_child(batch, events) {
            Ok((held, text)) => {
                let comparison = Comparison {
                    ours: Summary::exact(held),
                    baseline: Summary::exact(text),
                    ratio: Summary::exact(held / text),
                };
                rows.push(Row::new(case, "bytes/event", comparison).target(Target::Beyond(BUDGET)));
            }
            Err(why) => notes.push(format!("\"{case}\" was not measured: {why}.")),
        }
    }
    notes.push(
        "Per event the store holds its record (the `RecordedEvent` it lends to readers: ids, \
         positions, the time, and handles on the shared name, stream id, payload and \
         metadata), the payload's and the metadata's allocations, its place in the stream's \
         index and an entry in the event-id index that makes a replayed append a no-op. The \
         log grows in fixed-size chunks, so no doubling leaves room unused; the events of one \
         append share one metadata allocation; names, stream ids and aggregate types are \
         shared by every event that carries them. The resident set includes the allocator's \
         own headers and rounding."
            .to_owned(),
    );
    Section {
        number: "14",
        title: "Memory per event (in-memory store)",
        method: format!(
            "{events} events of the account mix, spread over {STREAMS} streams, appended \
             through `EventStore::append` on an `InMemoryStore`, each carrying the correlation \
             and causation ids a command gives it, in a fresh process per case. Ours: the \
             growth of the process's resident set (`VmRSS`) over the appends, divided by the \
             number of events. Baseline: the payload's JSON text plus the metadata as JSON \
             text, per event. Target: at most {BUDGET} bytes per event beyond the baseline \
             (one measurement; the figure moves by a few bytes between runs)."
        ),
        body: Body::Measured {
            ours: "eventsource",
            baseline: "payload + metadata text".to_owned(),
            rows,
            notes,
        },
    }
}

/// Runs one case in a fresh process and reads its answer.
fn in_child(batch: usize, events: usize) -> Result<(f64, f64), String> {
    let exe = std::env::current_exe().map_err(|e| format!("no path to the harness: {e}"))?;
    let output = Command::new(exe)
        .args(["--memory-child", &batch.to_string(), &events.to_string()])
        .output()
        .map_err(|e| format!("cannot run the harness again: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut figures = text.split_whitespace().map(str::parse::<f64>);
    match (output.status.success(), figures.next(), figures.next()) {
        (true, Some(Ok(held)), Some(Ok(text))) => Ok((held, text)),
        _ => Err(format!(
            "the child process failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )),
    }
}

/// The child's side: measures one case and prints "held text" per event.
/// `false` when the arguments are not two counts.
pub(crate) fn child(batch: Option<&String>, events: Option<&String>) -> bool {
    let parse = |arg: Option<&String>| arg.and_then(|a| a.parse::<usize>().ok()).filter(|&n| n > 0);
    let (Some(batch), Some(count)) = (parse(batch), parse(events)) else {
        return false;
    };
    let rt = super::runtime();
    let events = mix::events(count, Schema::Current);
    let streams: Vec<String> = (0..STREAMS)
        .map(|i| Account::stream_id(&format!("acc-{i}")))
        .collect();
    let text: usize = events
        .iter()
        .map(|e| e.to_new_event(Uuid::now_v7()))
        .map(|e| e.payload.len() + serde_json::to_string(&e.metadata).map_or(0, |m| m.len()))
        .sum();
    let Some(before) = resident_bytes() else {
        return false;
    };
    let store = InMemoryStore::new();
    let appended = rt.block_on(async {
        let mut versions = vec![None; STREAMS];
        for (i, chunk) in events.chunks(batch).enumerate() {
            let stream = i % STREAMS;
            let command_id = Uuid::now_v7();
            let new: Vec<NewEvent> = chunk.iter().map(|e| e.to_new_event(command_id)).collect();
            let expected = ExpectedVersion::from_current(versions[stream]);
            match store
                .append(&streams[stream], Account::NAME, expected, new)
                .await
            {
                Ok(done) => versions[stream] = Some(done.last_version),
                Err(_) => return false,
            }
        }
        true
    });
    let Some(after) = resident_bytes().filter(|_| appended) else {
        return false;
    };
    println!(
        "{} {}",
        (after - before) as f64 / count as f64,
        text as f64 / count as f64
    );
    drop(store);
    true
}

/// The process's resident set in bytes, from `/proc/self/status`.
fn resident_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
