//! Appends inside callers' transactions (`append_in`): about 30% rolled
//! back, some held open for seconds (holding back the read horizon), some
//! taking their transaction id before appending. A tailing subscriber
//! process must see every committed event exactly once, in order, and never
//! an event of a rolled-back transaction.

use std::time::Duration;

use anyhow::Result;
use eventsource::prelude::*;
use eventsource_postgres::PgEventStore;
use sqlx::AssertSqlSafe;
use tokio::sync::watch;
use tokio::task::JoinSet;
use uuid::Uuid;

use super::{Ctx, Report};
use crate::domain::{AGGREGATE_TYPE, Deposited};
use crate::ledger::{Batch, Ledger, Outcome};
use crate::writers::now_ms;

const SCHEMA: &str = "rollbacks";

pub(super) async fn run(ctx: &mut Ctx) -> Result<Report> {
    let mut report = Report::default();
    let store = ctx.fresh_store(SCHEMA, |o| o).await?;
    let noise = format!("CREATE TABLE \"{SCHEMA}\".noise (at bigint NOT NULL)");
    sqlx::query(AssertSqlSafe(noise))
        .execute(store.pool())
        .await?;
    let subscriber = ctx.subscriber(SCHEMA).await?;

    let ledger = Ledger::default();
    let (stop, stopped) = watch::channel(false);
    let mut writers = JoinSet::new();
    for writer in 0..8 {
        writers.spawn(write(
            store.clone(),
            writer,
            ledger.clone(),
            stopped.clone(),
            ctx.short,
        ));
    }
    let seconds = if ctx.short { 12 } else { 60 };
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let _ = stop.send(true);
    while let Some(done) = writers.join_next().await {
        done??;
    }

    let (_, counts) = ctx.check_log(SCHEMA, &ledger, subscriber).await?;
    let batches = ledger.batches();
    let rolled_back = batches
        .iter()
        .filter(|b| b.outcome == Outcome::Refused)
        .count();
    report.notes.push(format!(
        "{} transactions, {rolled_back} rolled back, {} events committed",
        batches.len(),
        ledger.acked_events()
    ));
    report.counts = counts;
    store.pool().close().await;
    Ok(report)
}

async fn write(
    store: PgEventStore,
    writer: u32,
    ledger: Ledger,
    stop: watch::Receiver<bool>,
    short: bool,
) -> Result<()> {
    let mut rng = fastrand::Rng::with_seed(u64::from(writer) + 100);
    let stream_id = format!("tx-w{writer}");
    let mut version = None;
    let mut seq = 0;
    let hold = if short { 300..1500 } else { 500..3000 };
    while !*stop.borrow() {
        let mut tx = store.pool().begin().await?;
        if rng.u32(..5) == 0 {
            // Take a transaction id before appending: the reader must wait
            // for it even though the events come later in the transaction.
            let noise = format!("INSERT INTO \"{SCHEMA}\".noise VALUES ($1)");
            sqlx::query(AssertSqlSafe(noise))
                .bind(now_ms() as i64)
                .execute(&mut *tx)
                .await?;
        }
        let events: Vec<NewEvent> = (0..rng.usize(1..=3))
            .map(|_| {
                seq += 1;
                NewEvent::from_event(
                    &Deposited {
                        writer,
                        seq,
                        amount: 1,
                    },
                    Metadata::new(),
                )
            })
            .collect::<Result<_, _>>()?;
        let event_ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
        let expected = ExpectedVersion::from_current(version);
        let appended = store
            .append_in(&mut tx, &stream_id, AGGREGATE_TYPE, expected, events)
            .await;
        let roll = rng.u32(..100);
        let outcome = match appended {
            Err(_) => {
                tx.rollback().await?;
                Outcome::Refused
            }
            Ok(_) if roll < 30 => {
                tx.rollback().await?;
                Outcome::Refused
            }
            Ok(result) => {
                if roll < 45 {
                    tokio::time::sleep(Duration::from_millis(rng.u64(hold.clone()))).await;
                }
                match tx.commit().await {
                    Ok(()) => {
                        version = Some(result.last_version);
                        store.wake_subscribers();
                        Outcome::Acked {
                            first: result.first_position,
                            last: result.last_position,
                        }
                    }
                    Err(_) => {
                        version = store.stream_version(&stream_id).await?;
                        Outcome::Unknown
                    }
                }
            }
        };
        ledger.record(Batch {
            stream_id: stream_id.clone(),
            event_ids,
            outcome,
            answered_ms: now_ms(),
            retried: false,
        });
    }
    Ok(())
}
