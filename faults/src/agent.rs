//! The programs the suite runs as child processes, to kill and freeze.
//!
//! Each prints what the driver needs on stdout, one line at a time:
//! `ready`, then for a subscriber `E <position> <event id> <ms since epoch>`
//! per delivered event.

use std::time::Duration;

use anyhow::Result;
use clap::{Args, Subcommand};
use eventsource::prelude::*;
use eventsource::projection::RunnerOptions;
use eventsource::store::SubscriptionItem;
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::StreamExt;
use tokio::signal::unix::{SignalKind, signal};

use crate::domain::{PartitionedModel, ReadModel};
use crate::writers::now_ms;

/// An agent and its settings.
#[derive(Debug, Subcommand)]
pub(crate) enum AgentCommand {
    /// Runs the read-model projection until killed.
    Project(ProjectArgs),
    /// Runs the partitioned read-model projection until killed, or until
    /// SIGTERM, on which it stops cleanly (leaving its partitions at once).
    ProjectPartitioned(ProjectArgs),
    /// Subscribes to the whole log from the start and prints each event.
    Subscribe(StoreArgs),
}

/// Where the store is.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// The database URL.
    #[arg(long)]
    pub(crate) url: String,
    /// The store's schema.
    #[arg(long)]
    pub(crate) schema: String,
}

/// The projection agent's settings.
#[derive(Debug, Args)]
pub(crate) struct ProjectArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The name written into the read model's rows.
    #[arg(long)]
    pub(crate) owner: String,
    /// The projection's lease TTL, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub(crate) ttl_ms: u64,
    /// How long each handler holds its transaction after writing, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub(crate) slow_ms: u64,
    /// Events per unit of work.
    #[arg(long, default_value_t = 50)]
    pub(crate) batch: usize,
}

/// Runs `command` until it is killed (or fails).
pub(crate) async fn run(command: AgentCommand) -> Result<()> {
    match command {
        AgentCommand::Project(args) => project(args).await,
        AgentCommand::ProjectPartitioned(args) => project_partitioned(args).await,
        AgentCommand::Subscribe(args) => subscribe(args).await,
    }
}

async fn connect(args: &StoreArgs) -> Result<PgEventStore> {
    let options = PgStoreOptions::new(&args.schema)?.with_poll_interval(Duration::from_millis(200));
    Ok(PgEventStore::connect_with(&args.url, options).await?)
}

async fn project(args: ProjectArgs) -> Result<()> {
    let (store, runner) = runner(&args).await?;
    let model = ReadModel {
        schema: args.store.schema.clone(),
        owner: args.owner,
        slow: Duration::from_millis(args.slow_ms),
    };
    runner.start(model, store.projection_backend()).await?;
    println!("ready {}", runner.owner());
    std::future::pending::<()>().await;
    Ok(())
}

async fn project_partitioned(args: ProjectArgs) -> Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let (store, runner) = runner(&args).await?;
    let model = PartitionedModel(ReadModel {
        schema: args.store.schema.clone(),
        owner: args.owner,
        slow: Duration::from_millis(args.slow_ms),
    });
    runner.start(model, store.projection_backend()).await?;
    println!("ready {}", runner.owner());
    terminate.recv().await;
    runner.shutdown().await;
    println!("stopped");
    Ok(())
}

/// A runner with the agents' options on the store of `args`.
async fn runner(args: &ProjectArgs) -> Result<(PgEventStore, ProjectionRunner)> {
    let store = connect(&args.store).await?;
    let ttl = Duration::from_millis(args.ttl_ms);
    let options = RunnerOptions::default()
        .with_batch_size(args.batch)
        .with_lease_ttl(ttl)
        .with_standby_poll((ttl / 5).max(Duration::from_millis(20)))
        .with_reconnect_delay(Duration::from_millis(100));
    let runner = ProjectionRunner::new(store.clone())?
        .with_dead_letters(store.dead_letters())
        .with_options(options);
    Ok((store, runner))
}

async fn subscribe(args: StoreArgs) -> Result<()> {
    let store = connect(&args).await?;
    let mut items = store.subscribe(1, EventFilter::all());
    println!("ready");
    while let Some(item) = items.next().await {
        match item {
            Ok(SubscriptionItem::Event(event)) => {
                println!(
                    "E {} {} {}",
                    event.global_position,
                    event.event_id,
                    now_ms()
                );
            }
            Ok(_) => {}
            Err(error) => println!("X {error}"),
        }
    }
    println!("X the subscription ended");
    Ok(())
}
