//! Runs the order summary and the fulfilment saga on PostgreSQL until its
//! standard input closes (or it is killed): the process that owns their
//! leases, for `orders admin` to pause, resume, rebuild and reset from
//! another process.
//!
//! Needs `DATABASE_URL` (and `ORDERS_SCHEMA` for another schema than
//! `orders_example`). Prints `owner <runner id>` once its projections run.
//! With `ORDERS_METRICS_ADDR` it serves metrics for Prometheus (see
//! `orders::metrics`).

use std::io::{Read, Write};
use std::time::Duration;

use eventsource::prelude::*;
use eventsource::projection::RunnerOptions;
use orders::saga::Fulfilment;
use orders::summary::PgSummaries;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    orders::metrics::serve_from_env().await?;
    let store = orders::admin::postgres()
        .await?
        .ok_or("orders-worker needs DATABASE_URL")?;
    store.migrate().await?;
    let summaries = PgSummaries::create(&store).await?;
    let bus = CommandBus::new(store.clone())?.with_snapshots(store.clone());
    let runner = ProjectionRunner::new(store.clone())?
        .with_dead_letters(store.dead_letters())
        .with_control(store.control_store())
        .with_options(
            RunnerOptions::default()
                .with_control_poll(Duration::from_millis(500))
                .with_max_retries(0),
        );
    runner.start(summaries, store.projection_backend()).await?;
    runner
        .start(
            SagaProcessor::<Fulfilment>::new(bus, store.saga_store()),
            store.projection_backend(),
        )
        .await?;
    println!("owner {}", runner.owner());
    std::io::stdout().flush()?;
    // Until the parent closes our standard input.
    tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await?;
    runner.shutdown().await;
    Ok(())
}
