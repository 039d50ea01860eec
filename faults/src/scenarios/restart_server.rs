//! The server stopped with `pg_ctl -m immediate` (a crash: recovery replays
//! the WAL) and `-m fast`, and started again, while eight writers append and
//! a subscriber process tails the log. Every acknowledged append must be
//! stored once, an append whose outcome the writer never learned must be
//! stored whole or not at all, and the subscriber must deliver every event
//! once, in order.

use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use super::{Ctx, Report, deliveries};
use crate::cluster::StopMode;
use crate::ledger::{Ledger, Outcome};
use crate::writers::{self, Plan, now_ms};

const SCHEMA: &str = "restarts";

pub(super) async fn run(ctx: &mut Ctx) -> Result<Report> {
    let mut report = Report::default();
    let store = ctx.fresh_store(SCHEMA, |o| o).await?;
    let subscriber = ctx.subscriber(SCHEMA).await?;

    let ledger = Ledger::default();
    let (stop, stopped) = watch::channel(false);
    let plan = Plan {
        writers: 8,
        own_streams: 3,
        shared_streams: 4,
        max_batch: 4,
        max_pause: Duration::from_millis(10),
        give_up_after: Duration::from_secs(60),
    };
    let writing = tokio::spawn(writers::run(store.clone(), plan, ledger.clone(), stopped));

    let rounds = if ctx.short { 2 } else { 5 };
    for mode in std::iter::repeat_n([StopMode::Immediate, StopMode::Fast], rounds).flatten() {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let began = now_ms();
        let down = tokio::task::block_in_place(|| ctx.cluster.restart(mode))?;
        let back = now_ms();
        let (append, deliver) = recovery(&ledger, &subscriber, back, Duration::from_secs(60)).await;
        report.notes.push(format!(
            "-m {}: server back after {:.2} s; first append acknowledged {}, subscriber delivering again {}",
            match mode {
                StopMode::Immediate => "immediate",
                StopMode::Fast => "fast",
            },
            down.as_secs_f64(),
            since(began, append),
            since(began, deliver),
        ));
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let _ = stop.send(true);
    writing.await?;

    let (_, counts) = ctx.check_log(SCHEMA, &ledger, subscriber).await?;
    let unknown = ledger
        .batches()
        .iter()
        .filter(|b| b.outcome == Outcome::Unknown)
        .count();
    report.notes.push(format!(
        "{} events acknowledged; {} appends lost their answer to a restart and were sent again \
         (each stored whole, once), {unknown} left with an unknown outcome",
        ledger.acked_events(),
        ledger.retried()
    ));
    report.counts = counts;
    store.pool().close().await;
    Ok(report)
}

/// When, after `back` (ms), the first append was acknowledged and the
/// subscriber delivered its first event.
async fn recovery(
    ledger: &Ledger,
    subscriber: &crate::process::Agent,
    back: u64,
    timeout: Duration,
) -> (Option<u64>, Option<u64>) {
    let deadline = now_ms() + timeout.as_millis() as u64;
    let (mut append, mut deliver) = (None, None);
    while now_ms() < deadline && (append.is_none() || deliver.is_none()) {
        let batches = ledger.batches();
        let after: Vec<_> = batches
            .iter()
            .filter(|b| b.answered_ms >= back && matches!(b.outcome, Outcome::Acked { .. }))
            .collect();
        append = append.or(after.iter().map(|b| b.answered_ms).min());
        deliver = deliver.or(deliveries(subscriber)
            .iter()
            .find(|d| d.at_ms >= back)
            .map(|d| d.at_ms));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (append, deliver)
}

fn since(began: u64, at: Option<u64>) -> String {
    at.map_or_else(
        || "never (within the timeout)".to_owned(),
        |at| {
            format!(
                "{:.2} s after the stop began",
                at.saturating_sub(began) as f64 / 1000.0
            )
        },
    )
}
