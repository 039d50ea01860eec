//! The fault scenarios, each against its own schema of the suite's cluster.

mod corrupt_rows;
mod frozen_owner;
mod kill_projection;
mod partitions;
mod restart_server;
mod rollbacks;

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::ValueEnum;
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use sqlx::postgres::PgPoolOptions;
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::cluster::Cluster;
use crate::domain::{PROJECTION, create_read_model};
use crate::ledger::{self, Counts, Ledger, Stored};
use crate::process::Agent;

/// How long an agent may take to start.
const READY: Duration = Duration::from_secs(30);

/// A scenario by name, as `--scenario` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Scenario {
    /// Projection processes killed with SIGKILL under concurrent writers.
    KillProjection,
    /// The server stopped with `-m immediate` and `-m fast` under writers
    /// and a live subscriber.
    RestartServer,
    /// Transactions rolled back and held open under a tailing subscriber.
    Rollbacks,
    /// Rows corrupted by hand, live and during a rebuild.
    CorruptRows,
    /// The lease owner frozen with SIGSTOP mid-transaction.
    FrozenOwner,
    /// A partitioned projection in three processes, one killed with
    /// SIGKILL, one joining, one leaving.
    Partitions,
}

impl Scenario {
    pub(crate) const ALL: [Scenario; 6] = [
        Self::KillProjection,
        Self::RestartServer,
        Self::Rollbacks,
        Self::CorruptRows,
        Self::FrozenOwner,
        Self::Partitions,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::KillProjection => "kill-projection",
            Self::RestartServer => "restart-server",
            Self::Rollbacks => "rollbacks",
            Self::CorruptRows => "corrupt-rows",
            Self::FrozenOwner => "frozen-owner",
            Self::Partitions => "partitions",
        }
    }

    pub(crate) async fn run(self, ctx: &mut Ctx) -> Result<Report> {
        match self {
            Self::KillProjection => kill_projection::run(ctx).await,
            Self::RestartServer => restart_server::run(ctx).await,
            Self::Rollbacks => rollbacks::run(ctx).await,
            Self::CorruptRows => corrupt_rows::run(ctx).await,
            Self::FrozenOwner => frozen_owner::run(ctx).await,
            Self::Partitions => partitions::run(ctx).await,
        }
    }
}

/// What a scenario found.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) counts: Counts,
    /// Measurements and remarks worth printing (recovery times, delays).
    pub(crate) notes: Vec<String>,
}

/// What every scenario works with.
pub(crate) struct Ctx {
    pub(crate) cluster: Cluster,
    /// For the checks; tests each connection before use, since the server
    /// may have restarted since.
    pub(crate) pool: PgPool,
    /// The short run (for CI) rather than the full one.
    pub(crate) short: bool,
}

impl Ctx {
    pub(crate) async fn new(cluster: Cluster, short: bool) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .test_before_acquire(true)
            .connect(&cluster.url())
            .await
            .context("cannot connect to the suite's server")?;
        Ok(Self {
            cluster,
            pool,
            short,
        })
    }

    /// A store on a fresh `schema`, migrated, with the read model's table.
    pub(crate) async fn fresh_store(
        &self,
        schema: &str,
        options: impl FnOnce(PgStoreOptions) -> PgStoreOptions,
    ) -> Result<PgEventStore> {
        let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        sqlx::query(AssertSqlSafe(drop)).execute(&self.pool).await?;
        let options = options(PgStoreOptions::new(schema)?);
        let pool = PgPoolOptions::new()
            .max_connections(12)
            .test_before_acquire(false)
            .connect(&self.cluster.url())
            .await?;
        let store = PgEventStore::with_options(pool, options);
        store.migrate().await?;
        create_read_model(store.pool(), schema).await?;
        Ok(store)
    }

    /// Starts a projection agent on `schema`.
    pub(crate) fn projector(&self, schema: &str, owner: &str, extra: &[&str]) -> Result<Agent> {
        let mut args = vec![
            "project".to_owned(),
            "--url".to_owned(),
            self.cluster.url(),
            "--schema".to_owned(),
            schema.to_owned(),
            "--owner".to_owned(),
            owner.to_owned(),
        ];
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Agent::spawn(format!("projector {owner}"), &args)
    }

    /// Starts a subscriber agent on `schema` and waits until it subscribed.
    pub(crate) async fn subscriber(&self, schema: &str) -> Result<Agent> {
        let args = [
            "subscribe".to_owned(),
            "--url".to_owned(),
            self.cluster.url(),
            "--schema".to_owned(),
            schema.to_owned(),
        ];
        let mut agent = Agent::spawn(format!("subscriber of {schema}"), &args)?;
        agent.wait_for_line("ready", READY).await?;
        Ok(agent)
    }

    /// Waits until `subscriber` delivered every stored event of `schema` (or
    /// a minute passed), stops it, and checks the store against what the
    /// writers were told and the deliveries against the store.
    pub(crate) async fn check_log(
        &self,
        schema: &str,
        ledger: &Ledger,
        mut subscriber: Agent,
    ) -> Result<(Vec<Stored>, Counts)> {
        let stored = ledger::stored_events(&self.pool, schema).await?;
        let waited = wait_for_deliveries(&subscriber, stored.len(), Duration::from_secs(60)).await;
        subscriber.kill().await?;
        let mut counts = ledger::check_store(ledger, &stored);
        let delivered: Vec<_> = deliveries(&subscriber)
            .iter()
            .map(|d| (d.position, d.event_id))
            .collect();
        counts.add(ledger::check_delivery(&stored, &delivered));
        if let Err(error) = waited {
            counts.problem(error.to_string());
        }
        Ok((stored, counts))
    }

    /// Checks the read model of `schema` against `stored`: every event
    /// applied exactly once; adds what it finds to `counts`.
    pub(crate) async fn check_read_model(
        &self,
        schema: &str,
        stored: &[Stored],
        counts: &mut Counts,
    ) -> Result<()> {
        let applied = ledger::read_model_rows(&self.pool, schema).await?;
        let model = ledger::check_read_model(stored, &applied);
        counts.lost += model.lost;
        counts.duplicated += model.duplicated;
        counts.other += model.other;
        counts.problems.extend(model.problems);
        Ok(())
    }

    /// The highest stored position in `schema` (0 when empty).
    pub(crate) async fn head(&self, schema: &str) -> Result<u64> {
        let statement =
            format!("SELECT coalesce(max(global_position), 0) FROM \"{schema}\".events");
        let row = sqlx::query(AssertSqlSafe(statement))
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(row.try_get::<i64, _>(0)?)?)
    }

    /// The projection's committed checkpoint in `schema`.
    pub(crate) async fn checkpoint(&self, schema: &str) -> Result<Option<u64>> {
        let statement = format!("SELECT position FROM \"{schema}\".checkpoints WHERE name = $1");
        let row = sqlx::query(AssertSqlSafe(statement))
            .bind(PROJECTION)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(u64::try_from(r.try_get::<i64, _>(0)?)?))
            .transpose()
    }

    /// Waits until the projection's checkpoint reaches the head of `schema`.
    pub(crate) async fn wait_for_projection(
        &self,
        schema: &str,
        timeout: Duration,
    ) -> Result<Duration> {
        let began = Instant::now();
        let head = self.head(schema).await?;
        loop {
            if self.checkpoint(schema).await?.is_some_and(|c| c >= head) {
                return Ok(began.elapsed());
            }
            if began.elapsed() > timeout {
                bail!(
                    "the projection did not reach position {head} within {timeout:?} (checkpoint {:?})",
                    self.checkpoint(schema).await?
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many events are parked for the projection in `schema`.
    pub(crate) async fn parked_positions(&self, schema: &str) -> Result<Vec<u64>> {
        let statement = format!(
            "SELECT global_position FROM \"{schema}\".dead_letters WHERE projection = $1 \
             ORDER BY global_position"
        );
        let rows = sqlx::query(AssertSqlSafe(statement))
            .bind(PROJECTION)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok(u64::try_from(r.try_get::<i64, _>(0)?)?))
            .collect()
    }
}

/// Parses a subscriber agent's `E <position> <event id> <ms>` lines.
pub(crate) fn deliveries(agent: &Agent) -> Vec<Delivery> {
    agent
        .lines()
        .iter()
        .filter_map(|line| {
            let mut parts = line.strip_prefix("E ")?.split(' ');
            Some(Delivery {
                position: parts.next()?.parse().ok()?,
                event_id: parts.next()?.parse().ok()?,
                at_ms: parts.next()?.parse().ok()?,
            })
        })
        .collect()
}

/// One event a subscriber agent delivered.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Delivery {
    pub(crate) position: u64,
    pub(crate) event_id: uuid::Uuid,
    pub(crate) at_ms: u64,
}

/// Waits until a subscriber agent has delivered `count` events.
pub(crate) async fn wait_for_deliveries(
    agent: &Agent,
    count: usize,
    timeout: Duration,
) -> Result<()> {
    let began = Instant::now();
    loop {
        let delivered = deliveries(agent).len();
        if delivered >= count {
            return Ok(());
        }
        if began.elapsed() > timeout {
            bail!("the subscriber delivered {delivered} of {count} events within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A random pause in `range` milliseconds.
pub(crate) async fn pause_ms(range: std::ops::Range<u64>) {
    tokio::time::sleep(Duration::from_millis(fastrand::u64(range))).await;
}
