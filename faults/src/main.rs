//! The fault suite of eventsource.
//!
//! Runs each scenario against a PostgreSQL cluster of its own (started from
//! the local server binaries, crashed and restarted at will), with real
//! child processes killed with SIGKILL and frozen with SIGSTOP, and counts
//! what was lost, duplicated, skipped or partly stored. Prints a line per
//! scenario and a summary line; exits non-zero when anything was found.
//!
//! ```text
//! cargo run -p eventsource-faults              # the full run
//! cargo run -p eventsource-faults -- --short   # the short run (part of ./scripts/test)
//! cargo run -p eventsource-faults -- --scenario frozen-owner
//! ```

mod agent;
mod cluster;
mod domain;
mod ledger;
mod process;
mod scenarios;
mod writers;

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};

use crate::agent::AgentCommand;
use crate::cluster::Cluster;
use crate::ledger::Counts;
use crate::scenarios::{Ctx, Scenario};

/// Crashes, kills and corrupts, and counts what survived.
#[derive(Debug, Parser)]
#[command(name = "eventsource-faults", args_conflicts_with_subcommands = true)]
struct Cli {
    /// The short run (a few minutes; what `./scripts/test` runs).
    #[arg(long)]
    short: bool,
    /// Runs only these scenarios (repeatable); all by default.
    #[arg(long = "scenario", value_enum)]
    scenarios: Vec<Scenario>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A child process of the suite (started by the suite itself).
    #[command(subcommand, hide = true)]
    Agent(AgentCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "error".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("eventsource-faults: cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Some(Command::Agent(command)) => runtime.block_on(agent::run(command)).map(|()| true),
        None => runtime.block_on(suite(cli.short, cli.scenarios)),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("eventsource-faults: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the scenarios; `Ok(false)` when any found damage or failed.
async fn suite(short: bool, chosen: Vec<Scenario>) -> anyhow::Result<bool> {
    let began = Instant::now();
    let scenarios = if chosen.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        chosen
    };
    let cluster = tokio::task::spawn_blocking(Cluster::start).await??;
    let mut ctx = Ctx::new(cluster, short).await?;
    println!(
        "eventsource-faults: {} run, {} scenario(s), server {}",
        if short { "short" } else { "full" },
        scenarios.len(),
        ctx.cluster.url()
    );
    let mut total = Counts::default();
    let mut failed = Vec::new();
    for scenario in &scenarios {
        let started = Instant::now();
        let outcome = scenario.run(&mut ctx).await;
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(report) => {
                let verdict = if report.counts.passed() {
                    "ok"
                } else {
                    "FAILED"
                };
                println!(
                    "{:<16} {verdict:<6} {} ({seconds:.0} s)",
                    scenario.name(),
                    report.counts
                );
                for note in &report.notes {
                    println!("    {note}");
                }
                for problem in &report.counts.problems {
                    println!("    problem: {problem}");
                }
                if !report.counts.passed() {
                    failed.push(scenario.name());
                }
                total.add(report.counts);
            }
            Err(error) => {
                println!("{:<16} ERROR  {error:#} ({seconds:.0} s)", scenario.name());
                failed.push(scenario.name());
            }
        }
    }
    println!(
        "faults: {} of {} scenarios passed in {:.0} s; {total}",
        scenarios.len() - failed.len(),
        scenarios.len(),
        began.elapsed().as_secs_f64()
    );
    if !failed.is_empty() {
        println!("failed: {}", failed.join(", "));
    }
    Ok(failed.is_empty())
}
