//! `eventsource-sim`: runs seeds of the deterministic simulation and
//! prints every failing one with the command that replays it.

use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use clap::Parser;
use eventsource_sim::{Mutation, Report, Shape, run_seed};

/// Runs the deterministic simulation of the eventsource runtime.
#[derive(Parser, Debug)]
#[command(name = "eventsource-sim")]
struct Args {
    /// How many seeds to run (from --first).
    #[arg(long, default_value_t = eventsource_sim::DEFAULT_SEEDS)]
    seeds: u64,
    /// The first seed of the range.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// Replay this one seed only, printing its trace hash.
    #[arg(long)]
    seed: Option<u64>,
    /// With --seed: print every entry of the trace as it is recorded.
    #[arg(long)]
    trace: bool,
    /// Threads running seeds (default: one per core).
    #[arg(long)]
    jobs: Option<usize>,
    /// Switch on a known bug of the runtime (needs the `mutations` feature):
    /// checkpoint-before-read-model, unfenced-lease, stale-retry,
    /// replayed-append-stored-again, deadline-fired-twice.
    #[arg(long)]
    mutation: Option<String>,
}

fn replay_command(seed: u64, mutation: Option<Mutation>) -> String {
    match mutation {
        None => format!("cargo run --release -p eventsource-sim -- --seed {seed}"),
        Some(m) => format!(
            "cargo run --release -p eventsource-sim --features mutations -- --seed {seed} --mutation {}",
            m.name()
        ),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mutation = match args.mutation.as_deref() {
        None => None,
        Some(name) => match Mutation::from_name(name) {
            Some(m) => Some(m),
            None => {
                let known: Vec<_> = Mutation::ALL.iter().map(|m| m.name()).collect();
                eprintln!("unknown mutation `{name}`; known: {}", known.join(", "));
                return ExitCode::from(2);
            }
        },
    };
    let shape = Shape::default();
    if let Some(seed) = args.seed {
        eventsource_sim::faults::PRINT.store(args.trace, std::sync::atomic::Ordering::Relaxed);
        let report = run_seed(seed, shape, mutation);
        println!(
            "seed {seed}: trace {:016x}, {} events, {} faults, {} crashes",
            report.trace_hash, report.events, report.faults, report.crashes
        );
        for violation in &report.violations {
            println!("  {violation}");
        }
        return if report.violations.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let next = AtomicU64::new(args.first);
    let end = args.first.saturating_add(args.seeds);
    let failed: Mutex<Vec<Report>> = Mutex::new(Vec::new());
    let totals = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= end {
                        return;
                    }
                    let report = run_seed(seed, shape, mutation);
                    totals[0].fetch_add(report.events, Ordering::Relaxed);
                    totals[1].fetch_add(report.faults, Ordering::Relaxed);
                    totals[2].fetch_add(report.crashes, Ordering::Relaxed);
                    if !report.violations.is_empty() {
                        println!(
                            "FAIL seed {seed}: {}\n  replay: {}",
                            report.violations[0],
                            replay_command(seed, mutation)
                        );
                        failed
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(report);
                    }
                }
            });
        }
    });
    let elapsed = started.elapsed().as_secs_f64();
    let failed = failed
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    println!(
        "{} seeds in {elapsed:.1}s ({:.0} seeds/s, {jobs} thread(s)): {} events, {} faults, {} crashes; {} failed",
        args.seeds,
        args.seeds as f64 / elapsed.max(1e-9),
        totals[0].load(Ordering::Relaxed),
        totals[1].load(Ordering::Relaxed),
        totals[2].load(Ordering::Relaxed),
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
