//! The projection's lease owner frozen with SIGSTOP in the middle of a
//! transaction that holds a transaction id (its handler writes, then waits).
//! A frozen transaction holds the read horizon back for every subscriber of
//! the database; the runner bounds its transactions by the lease TTL, so the
//! server ends the frozen one and everybody moves on. Required: the standby
//! takes over, an unrelated subscriber process is delayed by no more than
//! the documented bound (the lease TTL plus a second of polling slack), and
//! the read model ends with every event once.

use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use super::{Ctx, Report, deliveries};
use crate::ledger::{Ledger, Outcome};
use crate::writers::{self, Plan, now_ms};

const SCHEMA: &str = "frozen";
const TTL_MS: u64 = 2000;
/// The bound on an unrelated subscriber's delay while an owner is frozen.
const SLACK_MS: u64 = 1000;

pub(super) async fn run(ctx: &mut Ctx) -> Result<Report> {
    let mut report = Report::default();
    let store = ctx.fresh_store(SCHEMA, |o| o).await?;
    let settings = ["--ttl-ms", "2000", "--slow-ms", "25", "--batch", "20"];
    let mut owner = ctx.projector(SCHEMA, "owner", &settings)?;
    owner
        .wait_for_line("ready", Duration::from_secs(30))
        .await?;
    let subscriber = ctx.subscriber(SCHEMA).await?;

    let ledger = Ledger::default();
    let (stop, stopped) = watch::channel(false);
    let plan = Plan {
        writers: 2,
        own_streams: 4,
        shared_streams: 0,
        max_batch: 1,
        max_pause: Duration::from_millis(40),
        give_up_after: Duration::from_secs(30),
    };
    let writing = tokio::spawn(writers::run(store.clone(), plan, ledger.clone(), stopped));
    // The owner is busy (and so mostly inside a transaction) before the standby starts.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut standby = ctx.projector(SCHEMA, "standby", &settings)?;
    standby
        .wait_for_line("ready", Duration::from_secs(30))
        .await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let freezes = if ctx.short { 1 } else { 3 };
    let mut worst = 0;
    for _ in 0..freezes {
        let frozen_at = now_ms();
        owner.freeze()?;
        tokio::time::sleep(Duration::from_millis(3 * TTL_MS)).await;
        owner.thaw()?;
        let thawed_at = now_ms();
        tokio::time::sleep(Duration::from_millis(TTL_MS)).await;
        worst = worst.max(worst_delay(&ledger, &subscriber, frozen_at, thawed_at));
        // The owner and the standby swap roles for the next round.
        std::mem::swap(&mut owner, &mut standby);
    }
    let _ = stop.send(true);
    writing.await?;
    let caught_up = ctx
        .wait_for_projection(SCHEMA, Duration::from_secs(60))
        .await;

    owner.kill().await?;
    standby.kill().await?;
    let (stored, mut counts) = ctx.check_log(SCHEMA, &ledger, subscriber).await?;
    ctx.check_read_model(SCHEMA, &stored, &mut counts).await?;
    if let Err(error) = caught_up {
        counts.other += 1;
        counts.problem(error.to_string());
    }
    let statement = format!("SELECT count(DISTINCT owner) FROM \"{SCHEMA}\".read_model");
    let owners: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(statement))
        .fetch_one(&ctx.pool)
        .await?;
    if owners < 2 {
        counts.other += 1;
        counts.problem("the standby never took over from the frozen owner");
    }
    let bound = TTL_MS + SLACK_MS;
    if worst > bound {
        counts.other += 1;
        counts.problem(format!(
            "an unrelated subscriber was delayed {worst} ms while the owner was frozen (bound {bound} ms)"
        ));
    }
    report.notes.push(format!(
        "{freezes} freeze(s) of {} ms with a lease TTL of {TTL_MS} ms: the unrelated subscriber's worst delay was {worst} ms (bound {bound} ms)",
        3 * TTL_MS
    ));
    report.counts = counts;
    store.pool().close().await;
    Ok(report)
}

/// The longest time between an append's acknowledgement and its delivery,
/// over the appends acknowledged while the owner was frozen.
fn worst_delay(ledger: &Ledger, subscriber: &crate::process::Agent, from: u64, to: u64) -> u64 {
    let delivered: std::collections::HashMap<_, _> = deliveries(subscriber)
        .iter()
        .map(|d| (d.event_id, d.at_ms))
        .collect();
    let now = now_ms();
    ledger
        .batches()
        .iter()
        .filter(|b| {
            (from..to).contains(&b.answered_ms) && matches!(b.outcome, Outcome::Acked { .. })
        })
        .flat_map(|b| {
            b.event_ids.iter().map(|id| {
                // Not delivered yet: delayed until now at least.
                delivered
                    .get(id)
                    .copied()
                    .unwrap_or(now)
                    .saturating_sub(b.answered_ms)
            })
        })
        .max()
        .unwrap_or(0)
}
