//! `orders serve` with `ORDERS_METRICS_ADDR` serves the runtime's metrics
//! for Prometheus: the real binary, in memory, scraped over HTTP by a real
//! client after a command went through the service.

use std::process::Stdio;
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

/// The text after `prefix` on the first such line of `lines`, within 60 s
/// (the binary may be building its state).
async fn line_after(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    prefix: &str,
) -> String {
    let found = timeout(Duration::from_secs(60), async {
        while let Some(line) = lines.next_line().await.expect("stdout reads") {
            if let Some(rest) = line.strip_prefix(prefix) {
                return Some(rest.to_owned());
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(rest)) => rest,
        Ok(None) => panic!("the service exited before printing `{prefix}`"),
        Err(_) => panic!("the service printed no `{prefix}` line within 60 s"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_serves_its_metrics_for_prometheus() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["serve", "--port", "0"])
        .env("ORDERS_METRICS_ADDR", "127.0.0.1:0")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the orders binary starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let metrics = line_after(&mut lines, "metrics served on ").await;
    let service = line_after(&mut lines, "orders service listening on ").await;
    let service = service
        .split_whitespace()
        .next()
        .expect("an address")
        .to_owned();

    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let stocked = client
        .post(format!("{service}/stock"))
        .json(&json!({ "sku": "tea", "quantity": 5 }))
        .send()
        .await
        .expect("the service answers");
    assert!(stocked.status().is_success(), "{}", stocked.status());

    let scraped = client
        .get(&metrics)
        .send()
        .await
        .expect("the metrics endpoint answers");
    assert_eq!(scraped.status(), StatusCode::OK);
    let content_type = scraped
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = scraped.text().await.expect("a body");
    let command = text
        .lines()
        .find(|l| {
            l.starts_with("eventsource_commands_total{")
                && l.contains(r#"aggregate="orders.Warehouse""#)
                && l.contains(r#"outcome="ok""#)
        })
        .unwrap_or_else(|| panic!("no command counted in:\n{text}"));
    assert!(command.ends_with(" 1"), "{command}");
    assert!(
        text.contains("# TYPE eventsource_append_duration_seconds summary")
            || text.contains("# TYPE eventsource_append_duration_seconds histogram"),
        "no append latency in:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("eventsource_lease_changes_total{")
                && l.contains(r#"projection="orders.fulfilment""#)
                && l.contains(r#"change="acquired""#)),
        "no lease acquired in:\n{text}"
    );
    child.kill().await.expect("the service stops");
}
