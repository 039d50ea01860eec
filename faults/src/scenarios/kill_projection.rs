//! Projection processes writing a PostgreSQL read model, killed with SIGKILL
//! at random moments while eight writers append (some streams shared), with
//! and without group commit. The read model must hold every event exactly
//! once.

use std::time::Duration;

use anyhow::Result;
use tokio::sync::watch;

use super::{Ctx, Report, pause_ms};
use crate::ledger::{self, Ledger};
use crate::writers::{self, Plan};

pub(super) async fn run(ctx: &mut Ctx) -> Result<Report> {
    let mut report = Report::default();
    for group_commit in [false, true] {
        let schema = if group_commit {
            "kill_group"
        } else {
            "kill_plain"
        };
        let kills = if ctx.short { 10 } else { 30 };
        let store = ctx
            .fresh_store(schema, |o| o.with_group_commit(u32::from(group_commit)))
            .await?;
        let ledger = Ledger::default();
        let (stop, stopped) = watch::channel(false);
        let plan = Plan {
            writers: 8,
            own_streams: 3,
            shared_streams: 4,
            max_batch: 4,
            max_pause: Duration::from_millis(8),
            give_up_after: Duration::from_secs(30),
        };
        let writing = tokio::spawn(writers::run(store.clone(), plan, ledger.clone(), stopped));

        let mut agent = ctx.projector(schema, "p0", &["--ttl-ms", "800"])?;
        for kill in 1..=kills {
            pause_ms(200..1200).await;
            agent.kill().await?;
            agent = ctx.projector(schema, &format!("p{kill}"), &["--ttl-ms", "800"])?;
        }
        let _ = stop.send(true);
        writing.await?;
        let caught_up = ctx
            .wait_for_projection(schema, Duration::from_secs(90))
            .await?;
        agent.kill().await?;

        let stored = ledger::stored_events(&ctx.pool, schema).await?;
        let mut counts = ledger::check_store(&ledger, &stored);
        ctx.check_read_model(schema, &stored, &mut counts).await?;
        let parked = ctx.parked_positions(schema).await?;
        if !parked.is_empty() {
            counts.other += parked.len() as u64;
            counts.problem(format!("{} event(s) parked", parked.len()));
        }
        report.notes.push(format!(
            "{}: {kills} kills, {} events acknowledged, the last instance caught up {:.1} s after the writers stopped",
            if group_commit { "group commit" } else { "no group commit" },
            ledger.acked_events(),
            caught_up.as_secs_f64()
        ));
        report.counts.add(counts);
        store.pool().close().await;
    }
    Ok(report)
}
