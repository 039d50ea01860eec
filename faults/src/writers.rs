//! Writer tasks: append batches, retry unknown outcomes with the same event
//! ids, and record what they were told in the ledger.

use std::time::{Duration, Instant};

use eventsource::prelude::*;
use eventsource::store::{AppendResult, StoreError};
use eventsource_postgres::PgEventStore;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::domain::{AGGREGATE_TYPE, Deposited};
use crate::ledger::{Batch, Ledger, Outcome};

/// How the writers share streams and pace themselves.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    /// Writer tasks.
    pub(crate) writers: u32,
    /// Streams only one writer appends to (with exact expected versions).
    pub(crate) own_streams: u32,
    /// Streams every writer appends to (any version).
    pub(crate) shared_streams: u32,
    /// The largest batch.
    pub(crate) max_batch: usize,
    /// The longest pause between two appends of a writer.
    pub(crate) max_pause: Duration,
    /// How long a writer keeps retrying an append without a definite answer.
    pub(crate) give_up_after: Duration,
}

/// Runs `plan`'s writers until `stop` turns true; returns when all have
/// recorded their last batch.
pub(crate) async fn run(
    store: PgEventStore,
    plan: Plan,
    ledger: Ledger,
    stop: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    for writer in 0..plan.writers {
        tasks.spawn(write(
            store.clone(),
            plan,
            writer,
            ledger.clone(),
            stop.clone(),
        ));
    }
    while tasks.join_next().await.is_some() {}
}

async fn write(
    store: PgEventStore,
    plan: Plan,
    writer: u32,
    ledger: Ledger,
    stop: watch::Receiver<bool>,
) {
    let mut rng = fastrand::Rng::with_seed(u64::from(writer) * 7919 + 1);
    let mut versions = vec![None::<u64>; plan.own_streams as usize];
    let mut seq = 0u64;
    while !*stop.borrow() {
        let own = plan.shared_streams == 0 || rng.u32(0..10) < 7;
        let (stream_id, expected, slot) = if own {
            let k = rng.usize(..versions.len());
            let expected = ExpectedVersion::from_current(versions[k]);
            (format!("w{writer}-s{k}"), expected, Some(k))
        } else {
            let k = rng.u32(..plan.shared_streams);
            (format!("shared-{k}"), ExpectedVersion::Any, None)
        };
        let size = rng.usize(1..=plan.max_batch);
        let events: Vec<NewEvent> = (0..size)
            .map(|_| {
                seq += 1;
                let deposit = Deposited {
                    writer,
                    seq,
                    amount: rng.i64(1..1000),
                };
                NewEvent::from_event(&deposit, Metadata::new())
            })
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        if events.len() != size {
            tracing::error!("an event did not encode");
            return;
        }
        let event_ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let (outcome, retried) =
            append(&store, &stream_id, expected, events, plan.give_up_after).await;
        if let Some(k) = slot {
            versions[k] = match &outcome {
                Answer::Stored(result) => Some(result.last_version),
                // Unknown: ask the store where the stream is now.
                _ => store.stream_version(&stream_id).await.ok().flatten(),
            };
        }
        ledger.record(Batch {
            stream_id,
            event_ids,
            outcome: match outcome {
                Answer::Stored(result) => Outcome::Acked {
                    first: result.first_position,
                    last: result.last_position,
                },
                Answer::Refused => Outcome::Refused,
                Answer::Unknown => Outcome::Unknown,
            },
            answered_ms: now_ms(),
            retried,
        });
        let pause = rng.u64(..=plan.max_pause.as_micros() as u64);
        tokio::time::sleep(Duration::from_micros(pause)).await;
    }
}

enum Answer {
    Stored(AppendResult),
    Refused,
    Unknown,
}

/// Appends, retrying the same batch (the same event ids, so a retry after a
/// lost reply is answered as a replay) until the store answers definitely
/// or `give_up_after` passes; says whether an attempt went unanswered.
async fn append(
    store: &PgEventStore,
    stream_id: &str,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    give_up_after: Duration,
) -> (Answer, bool) {
    let began = Instant::now();
    let mut pause = Duration::from_millis(20);
    let mut retried = false;
    loop {
        match store
            .append(stream_id, AGGREGATE_TYPE, expected, events.clone())
            .await
        {
            Ok(result) => return (Answer::Stored(result), retried),
            Err(StoreError::Conflict { .. }) => return (Answer::Refused, retried),
            Err(error) => {
                retried = true;
                if began.elapsed() > give_up_after {
                    tracing::warn!(%error, stream_id, "giving up on an append");
                    return (Answer::Unknown, retried);
                }
                tracing::debug!(%error, stream_id, "append failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

/// Milliseconds since the epoch, the clock the subscriber agents report in.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
