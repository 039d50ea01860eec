//! A partitioned projection (six partitions) run by three processes
//! writing one PostgreSQL read model while eight writers append. The
//! processes must share the partitions fairly (two each); one killed with
//! SIGKILL has its partitions taken over by the others within a bound
//! derived from the lease TTL; a process that joins gets its share; one
//! stopped cleanly hands its partitions over at once. The read model must
//! end with every event exactly once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::watch;

use super::{Ctx, Report};
use crate::domain::{PARTITIONED, PARTITIONS};
use crate::ledger::{self, Ledger};
use crate::process::Agent;
use crate::writers::{self, Plan};

const SCHEMA: &str = "partitions";
const TTL_MS: u64 = 1000;
/// The longest a dead process's partitions may stay unowned: its leases
/// and its heartbeat expire after a TTL, the survivors see it gone at
/// their next heartbeat (a third of a TTL) and take the partitions at
/// their next standby poll (a fifth of a TTL); three times that is slack
/// for a machine under load.
const TAKEOVER_BOUND: Duration = Duration::from_millis(3 * (TTL_MS + TTL_MS / 3 + TTL_MS / 5));

pub(super) async fn run(ctx: &mut Ctx) -> Result<Report> {
    let mut report = Report::default();
    let store = ctx.fresh_store(SCHEMA, |o| o).await?;
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

    let mut agents = Vec::new();
    for name in ["a", "b", "c"] {
        agents.push(start(ctx, name).await?);
    }
    let spread = owners_become(ctx, &[2, 2, 2], &agents, Duration::from_secs(30)).await?;
    report.notes.push(format!(
        "3 processes hold 2 partitions each {:.1} s after the last started",
        spread.as_secs_f64()
    ));

    // One killed: its partitions must be taken over within the bound.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (_, mut killed) = agents.remove(1);
    killed.kill().await?;
    let taken = owners_become(ctx, &[3, 3], &agents, Duration::from_secs(30)).await?;
    report.notes.push(format!(
        "after a SIGKILL, the 2 others hold 3 partitions each {:.1} s later (bound {:.1} s)",
        taken.as_secs_f64(),
        TAKEOVER_BOUND.as_secs_f64()
    ));
    if taken > TAKEOVER_BOUND {
        report.counts.other += 1;
        report.counts.problem(format!(
            "the killed process's partitions were taken over after {taken:?}, past {TAKEOVER_BOUND:?}"
        ));
    }

    // One joins, then one leaves cleanly.
    agents.push(start(ctx, "d").await?);
    let joined = owners_become(ctx, &[2, 2, 2], &agents, Duration::from_secs(30)).await?;
    report.notes.push(format!(
        "a process that joins holds its 2 partitions {:.1} s after it started",
        joined.as_secs_f64()
    ));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let (_, mut leaving) = agents.remove(0);
    leaving.terminate(Duration::from_secs(30)).await?;
    let left = owners_become(ctx, &[3, 3], &agents, Duration::from_secs(30)).await?;
    report.notes.push(format!(
        "a process that stops cleanly is replaced {:.1} s later",
        left.as_secs_f64()
    ));

    let _ = stop.send(true);
    writing.await?;
    let caught_up = caught_up(ctx, Duration::from_secs(90)).await?;
    for (_, agent) in &mut agents {
        agent.kill().await?;
    }
    let stored = ledger::stored_events(&ctx.pool, SCHEMA).await?;
    let mut counts = ledger::check_store(&ledger, &stored);
    ctx.check_read_model(SCHEMA, &stored, &mut counts).await?;
    report.notes.push(format!(
        "{} events acknowledged; every partition caught up {:.1} s after the writers stopped",
        ledger.acked_events(),
        caught_up.as_secs_f64()
    ));
    report.counts.add(counts);
    store.pool().close().await;
    Ok(report)
}

/// Starts a process running the partitioned projection; returns its lease
/// owner id with it, once it is ready.
async fn start(ctx: &Ctx, name: &str) -> Result<(uuid::Uuid, Agent)> {
    let ttl = TTL_MS.to_string();
    let mut args = vec![
        "project-partitioned".to_owned(),
        "--url".to_owned(),
        ctx.cluster.url(),
        "--schema".to_owned(),
        SCHEMA.to_owned(),
        "--owner".to_owned(),
        name.to_owned(),
    ];
    args.extend([
        "--ttl-ms".to_owned(),
        ttl,
        "--batch".to_owned(),
        "20".to_owned(),
    ]);
    let mut agent = Agent::spawn(format!("partitioned {name}"), &args)?;
    let ready = agent
        .wait_for_line("ready ", Duration::from_secs(30))
        .await?;
    let owner = ready.trim_start_matches("ready ").parse()?;
    Ok((owner, agent))
}

/// The unexpired partition leases, by owner.
async fn owners(ctx: &Ctx) -> Result<BTreeMap<uuid::Uuid, u32>> {
    let statement = format!(
        "SELECT owner, count(*) FROM \"{SCHEMA}\".projection_leases \
         WHERE name LIKE $1 AND expires_at > clock_timestamp() GROUP BY owner"
    );
    let rows = sqlx::query(AssertSqlSafe(statement))
        .bind(format!("{PARTITIONED}#p%"))
        .fetch_all(&ctx.pool)
        .await?;
    rows.iter()
        .map(|row| {
            let count: i64 = row.try_get(1)?;
            Ok((row.try_get(0)?, u32::try_from(count)?))
        })
        .collect()
}

/// Waits until `agents` (and no other owner) hold `want` partitions each,
/// in that order; returns how long it took.
async fn owners_become(
    ctx: &Ctx,
    want: &[u32],
    agents: &[(uuid::Uuid, Agent)],
    timeout: Duration,
) -> Result<Duration> {
    let began = Instant::now();
    let wanted: BTreeMap<uuid::Uuid, u32> = agents
        .iter()
        .map(|(owner, _)| *owner)
        .zip(want.iter().copied())
        .collect();
    debug_assert_eq!(want.iter().sum::<u32>(), PARTITIONS);
    loop {
        let now = owners(ctx).await?;
        if now == wanted {
            return Ok(began.elapsed());
        }
        if began.elapsed() > timeout {
            bail!("the partition leases are held as {now:?}, not as {wanted:?}, after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until every partition's checkpoint reaches the head.
async fn caught_up(ctx: &Ctx, timeout: Duration) -> Result<Duration> {
    let began = Instant::now();
    let head = ctx.head(SCHEMA).await?;
    let statement = format!(
        "SELECT count(*) FROM \"{SCHEMA}\".checkpoints WHERE name LIKE $1 AND position >= $2"
    );
    loop {
        let row = sqlx::query(AssertSqlSafe(statement.clone()))
            .bind(format!("{PARTITIONED}#p%"))
            .bind(i64::try_from(head)?)
            .fetch_one(&ctx.pool)
            .await?;
        let done: i64 = row.try_get(0)?;
        if done == i64::from(PARTITIONS) {
            return Ok(began.elapsed());
        }
        if began.elapsed() > timeout {
            bail!("{done} of {PARTITIONS} partitions reached position {head} within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
