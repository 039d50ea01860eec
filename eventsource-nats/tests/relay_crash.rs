//! The relay as a real process, killed with SIGKILL again and again (and
//! now and then frozen with SIGSTOP past its lease) while writers append
//! to PostgreSQL: afterwards the JetStream stream holds every event
//! exactly once, in global order as a whole and per subject.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::{Metadata, NewEvent};
use eventsource_nats::subject::SubjectScheme;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

const KILLS: usize = 12;
const WRITERS: usize = 4;
/// Stream ids the writers pick from: plain ones and ones no subject token
/// can hold as they are.
const STREAM_IDS: &[&str] = &[
    "acc-1", "acc-2", "acc-3", "acc-4", "acc-5", "acc.6", "acc 7", "*", ">", "Zürich", "a.b.c",
    "x%2Ey", "tab\tbed", "",
];

fn relay(database_url: &str, schema: &str, name: &str, stream: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_eventsource-nats-relay"))
        .args([database_url, schema, name, stream, "32"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the relay process")
}

fn signal(child: &Child, signal: Signal) {
    if let Some(pid) = child.id() {
        let pid = Pid::from_raw(i32::try_from(pid).expect("a pid"));
        kill(pid, signal).expect("signal the relay");
    }
}

async fn sigkill(child: &mut Child) {
    if let Some(pid) = child.id() {
        let pid = Pid::from_raw(i32::try_from(pid).expect("a pid"));
        // It may have exited already; `wait` tells.
        let _ = kill(pid, Signal::SIGKILL);
    }
    let status = child.wait().await.expect("wait for the relay");
    assert!(
        !status.success(),
        "the relay exited by itself before it was killed: {status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_relay_killed_again_and_again_loses_nothing_and_keeps_order() {
    let client = common::nats().await;
    let store = common::pg_store().await;
    let database_url = common::database_url();
    let stream = common::unique("NATS_RELAY_CRASH");
    let name = "crash-relay";

    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut written = 0u64;
            let started = Instant::now();
            // Bounded in count and time, whatever the kills do.
            while !stop.load(Ordering::SeqCst)
                && written < 20_000
                && started.elapsed() < Duration::from_secs(300)
            {
                let index = fastrand::usize(..STREAM_IDS.len());
                let stream_id = STREAM_IDS[index];
                let stream_id = if stream_id.is_empty() {
                    format!("w{writer}")
                } else {
                    stream_id.to_owned()
                };
                let events: Vec<NewEvent> = (0..fastrand::usize(1..4))
                    .map(|i| {
                        NewEvent::new(
                            "natstest.Deposited",
                            1,
                            format!(r#"{{"writer":{writer},"n":{written},"i":{i}}}"#),
                            Metadata::new().with_header(
                                "traceparent",
                                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                            ),
                        )
                    })
                    .collect();
                // Each stream keeps one aggregate type, hostile or not.
                let aggregate = if index % 2 == 0 {
                    "natstest.Account"
                } else {
                    "natstest Odd*"
                };
                match store
                    .append(&stream_id, aggregate, ExpectedVersion::Any, events)
                    .await
                {
                    Ok(_) => written += 1,
                    Err(error) => panic!("writer {writer} failed: {error}"),
                }
                tokio::time::sleep(Duration::from_millis(fastrand::u64(1..8))).await;
            }
            written
        }));
    }

    // Two relay processes of the same name: one publishes, one waits.
    let mut relays = [
        relay(&database_url, store.schema(), name, &stream),
        relay(&database_url, store.schema(), name, &stream),
    ];
    let (mut kills, mut freezes) = (0, 0);
    for round in 0.. {
        if kills >= KILLS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(fastrand::u64(300..1500))).await;
        if round % 4 == 3 {
            // Frozen past its lease: if it was publishing, the other takes
            // over, and when it wakes its expectations no longer hold.
            let frozen = fastrand::usize(..relays.len());
            signal(&relays[frozen], Signal::SIGSTOP);
            tokio::time::sleep(Duration::from_secs(3)).await;
            signal(&relays[frozen], Signal::SIGCONT);
            freezes += 1;
            println!("round {round}: froze relay {frozen} for 3 s");
            tokio::time::sleep(Duration::from_millis(fastrand::u64(300..1000))).await;
        }
        // Every third round both die, so the one publishing surely does.
        let victims: Vec<usize> = if round % 3 == 2 {
            vec![0, 1]
        } else {
            vec![fastrand::usize(..relays.len())]
        };
        for victim in victims {
            sigkill(&mut relays[victim]).await;
            kills += 1;
            println!("round {round}: killed relay {victim}");
            relays[victim] = relay(&database_url, store.schema(), name, &stream);
        }
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.expect("a writer");
    }

    let head = store.head_position().await.expect("the head");
    let log = common::read_log(&store).await;
    assert_eq!(log.last().map(|e| e.global_position), Some(head));
    let deadline = Instant::now() + Duration::from_secs(120);
    let stored = loop {
        let stored = common::read_stream(&client, &stream).await;
        let reached = stored.last().map(|s| s.event().global_position);
        if reached == Some(head) || Instant::now() > deadline {
            break stored;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for mut relay in relays {
        sigkill(&mut relay).await;
    }

    let scheme = SubjectScheme::prefixed(&stream).expect("a valid prefix");
    let mut seen: HashMap<uuid::Uuid, usize> = HashMap::new();
    let mut last_by_subject: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut out_of_order, mut out_of_global_order, mut wrong_subject) = (0, 0, 0);
    let mut previous = 0;
    for message in &stored {
        let event = message.event();
        *seen.entry(event.event_id).or_default() += 1;
        if event.global_position <= previous {
            out_of_global_order += 1;
        }
        previous = event.global_position;
        let last = last_by_subject.entry(&message.subject).or_default();
        if event.global_position <= *last {
            out_of_order += 1;
        }
        *last = event.global_position;
        let expected = scheme
            .subject(&event.aggregate_type, &event.stream_id)
            .expect("a subject");
        if message.subject != expected {
            wrong_subject += 1;
        }
    }
    let lost = log
        .iter()
        .filter(|e| !seen.contains_key(&e.event_id))
        .count();
    let duplicated: usize = seen.values().map(|n| n - 1).sum();
    let foreign = seen.len() + lost - log.len();
    let matches_log =
        stored.len() == log.len() && stored.iter().zip(&log).all(|(s, e)| s.event() == e);
    println!(
        "{kills} kills, {freezes} freezes, {} events written, {} messages stored, {} subjects: lost {lost}, \
         duplicated {duplicated}, out of order per subject {out_of_order}, out of global \
         order {out_of_global_order}, not in the log {foreign}, wrong subject {wrong_subject}",
        log.len(),
        stored.len(),
        last_by_subject.len(),
    );
    assert!(
        log.len() > 100,
        "too few events were written to test anything"
    );
    assert_eq!(lost, 0, "events lost");
    assert_eq!(duplicated, 0, "events duplicated");
    assert_eq!(out_of_order, 0, "events out of order within a subject");
    assert_eq!(out_of_global_order, 0, "events out of global order");
    assert_eq!(foreign, 0, "messages that are not events of the log");
    assert_eq!(wrong_subject, 0, "events on the wrong subject");
    assert!(matches_log, "the stream does not read back as the log");

    common::delete_stream(&client, &stream).await;
    common::drop_schema(&store).await;
}
