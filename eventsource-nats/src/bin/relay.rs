//! `eventsource-nats-relay`: relays a PostgreSQL event store to JetStream.
//!
//! ```text
//! eventsource-nats-relay <database-url> <schema> <relay-name> <stream> [batch-size]
//! ```
//!
//! The NATS server is `NATS_URL` (default `nats://127.0.0.1:4222`). The
//! relay's checkpoint and lease are kept by the store's projection
//! backend; it runs until killed, or until a failure retrying cannot mend
//! (then it exits with status 1).

use std::process::ExitCode;
use std::time::Duration;

use eventsource_nats::relay::{Relay, RelayOptions};
use eventsource_nats::stream::StreamSettings;
use eventsource_postgres::{PgEventStore, PgStoreOptions};

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, schema, name, stream, rest @ ..] = args.as_slice() else {
        eprintln!(
            "usage: eventsource-nats-relay <database-url> <schema> <relay-name> <stream> [batch-size]"
        );
        return ExitCode::from(2);
    };
    let batch_size = match rest.first().map(|s| s.parse::<usize>()) {
        None => 256,
        Some(Ok(size)) => size,
        Some(Err(error)) => {
            eprintln!("batch size: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(url, schema, name, stream, batch_size)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relay: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    url: &str,
    schema: &str,
    name: &str,
    stream: &str,
    batch_size: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let store = PgEventStore::connect_with(url, PgStoreOptions::new(schema)?).await?;
    let client =
        eventsource_nats::connect(&eventsource_nats::url_from_env(), Duration::from_secs(5))
            .await?;
    let settings = StreamSettings::new(stream, vec![format!("{stream}.>")])?;
    let subjects = eventsource_nats::subject::SubjectScheme::prefixed(stream)?;
    let options = RelayOptions::new(name, settings)?
        .with_subjects(subjects)
        .with_batch_size(batch_size)
        .with_lease_ttl(Duration::from_secs(2))
        .with_standby_poll(Duration::from_millis(200));
    let backend = store.projection_backend();
    let relay = Relay::new(store, backend, client, options);
    relay.run(std::future::pending()).await?;
    Ok(())
}
