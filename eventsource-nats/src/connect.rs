//! Connecting to the NATS server with a typed error when it is not there.

use std::time::Duration;

use async_nats::Client;

use crate::error::NatsError;

/// The address [`url_from_env`] falls back to.
pub const DEFAULT_URL: &str = "nats://127.0.0.1:4222";

/// `NATS_URL` if set and not blank, else [`DEFAULT_URL`].
pub fn url_from_env() -> String {
    match std::env::var("NATS_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => DEFAULT_URL.to_owned(),
    }
}

/// Connects to the NATS server at `url`, failing with
/// [`NatsError::Unreachable`] within `timeout` when it cannot be reached.
/// Once connected, the client reconnects by itself after a lost
/// connection.
pub async fn connect(url: &str, timeout: Duration) -> Result<Client, NatsError> {
    let unreachable = |source: eventsource::BoxError| NatsError::Unreachable {
        url: url.to_owned(),
        source,
    };
    let connecting = async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        .connect(url);
    match tokio::time::timeout(timeout, connecting).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(error)) => Err(unreachable(Box::new(error))),
        Err(_) => Err(unreachable(
            format!("no answer within {} ms", timeout.as_millis()).into(),
        )),
    }
}
