//! Prometheus metrics on a port of their own, when asked.
//!
//! With `ORDERS_METRICS_ADDR` set (`127.0.0.1:9100`, or port 0 for any free
//! one), `orders serve` and `orders-worker` install a Prometheus recorder
//! for the runtime's metrics (see `eventsource::metrics` for the names) and
//! serve them as text at `http://<address>/metrics`, printing the line
//! `metrics served on http://<address>/metrics` once listening.

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::app::BoxError;

/// The variable naming the address to serve metrics on.
pub const ADDR_VAR: &str = "ORDERS_METRICS_ADDR";

/// Serves metrics on the address in [`ADDR_VAR`], if set: returns the
/// address bound (with the port chosen when it asked for 0).
pub async fn serve_from_env() -> Result<Option<SocketAddr>, BoxError> {
    let address = match std::env::var(ADDR_VAR) {
        Ok(address) if !address.trim().is_empty() => address,
        _ => return Ok(None),
    };
    let address: SocketAddr = address
        .trim()
        .parse()
        .map_err(|e| format!("{ADDR_VAR}=`{address}` is not an address and port: {e}"))?;
    let listener = TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot serve metrics on {address}: {e}"))?;
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| format!("cannot install the Prometheus recorder: {e}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router(handle)).await {
            eprintln!("the metrics endpoint stopped: {error}");
        }
    });
    // The line tests read the port from.
    println!("metrics served on http://{bound}/metrics");
    Ok(Some(bound))
}

/// `GET /metrics`: the Prometheus text format.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                // Histograms keep their windows tidy only when asked.
                handle.run_upkeep();
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    )
}
