//! The order service over HTTP, with a real client (reqwest) against the
//! running service, in memory and on PostgreSQL: every status mapping,
//! `If-Match` conflicts, read-your-writes through the position header, the
//! SSE status stream (in order, and closed when the client goes away), and
//! problem documents for bad bodies. On PostgreSQL the store is also cut
//! off behind a proxy, for the 503s.
//!
//! The PostgreSQL runs need `DATABASE_URL` (as `./scripts/test` provides)
//! and fail without it; each uses a schema of its own, dropped afterwards.

#[path = "../../support/walkthrough.rs"]
mod walkthrough;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use eventsource::prelude::*;
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::StreamExt;
use orders::app::App;
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const PROBLEM: &str = "application/problem+json";
const POSITION: &str = "eventsource-position";

/// The service on a port of its own, and a client.
struct Service {
    base: String,
    app: App,
    client: Client,
    server: JoinHandle<()>,
    schema: Option<(String, String)>,
}

impl Service {
    async fn start(mut app: App) -> Self {
        // Short waits, so timeouts and departed clients show quickly.
        app.queries = app.queries.clone().with_timeout(Duration::from_millis(300));
        app.keep_alive = Duration::from_millis(100);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = orders::http::router(app.clone());
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            base,
            app,
            client: Client::new(),
            server,
            schema: None,
        }
    }

    async fn in_memory() -> Self {
        Self::start(App::in_memory().await.unwrap()).await
    }

    /// On PostgreSQL through `connect` (the server's address, or a proxy's).
    async fn on_postgres(connect: impl FnOnce(PgConnectOptions) -> PgConnectOptions) -> Self {
        let url = walkthrough::database_url("orders");
        let schema = format!("orders_http_{}", eventsource::uuid::Uuid::now_v7().simple());
        let options = connect(PgConnectOptions::from_str(&url).unwrap());
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(options)
            .await
            .unwrap();
        let store = PgEventStore::with_options(pool, PgStoreOptions::new(&schema).unwrap());
        let mut service = Self::start(App::on_postgres(store).await.unwrap()).await;
        service.schema = Some((url, schema));
        service
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn post(&self, path: &str, body: Option<Value>) -> Response {
        let request = self.client.post(self.url(path));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.unwrap()
    }

    async fn post_if_match(&self, path: &str, etag: &str, body: Value) -> Response {
        self.client
            .post(self.url(path))
            .header("if-match", etag)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str, position: Option<&str>) -> Response {
        let request = self.client.get(self.url(path));
        let request = match position {
            Some(position) => request.header(POSITION, position),
            None => request,
        };
        request.send().await.unwrap()
    }

    async fn place(&self, id: &str) -> Response {
        let response = self
            .post("/orders", Some(json!({"order_id": id, "customer": "ann"})))
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response
    }

    async fn finish(self) {
        self.app.runner.shutdown().await;
        self.server.abort();
        if let Some((url, schema)) = self.schema {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap();
            let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&pool)
                .await
                .unwrap();
        }
    }
}

/// A unique order id.
fn order_id(what: &str) -> String {
    format!("{what}-{}", eventsource::uuid::Uuid::now_v7().simple())
}

/// The problem document of `response`, after checking its status and type.
async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, PROBLEM);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16());
    assert!(body["title"].is_string(), "{body}");
    body
}

fn header(response: &Response, name: &str) -> String {
    response.headers()[name].to_str().unwrap().to_owned()
}

async fn status_mappings(service: &Service) {
    let id = order_id("mapping");
    // 201, then 409 for placing it again.
    let placed = service.place(&id).await;
    assert_eq!(header(&placed, "location"), format!("/orders/{id}"));
    assert_eq!(header(&placed, "etag"), "\"1\"");
    let again = service
        .post("/orders", Some(json!({"order_id": id, "customer": "bob"})))
        .await;
    let body = problem(again, StatusCode::CONFLICT).await;
    assert_eq!(body["type"], "urn:eventsource:problem:already-exists");
    assert_eq!(body["current_version"], 1);

    // 404 for a command on an order that does not exist, and its query.
    let missing = service.post("/orders/no-such-order/submit", None).await;
    problem(missing, StatusCode::NOT_FOUND).await;
    let missing = service.get("/orders/no-such-order", None).await;
    problem(missing, StatusCode::NOT_FOUND).await;

    // 422 with the domain error: an empty order cannot be submitted.
    let rejected = service.post(&format!("/orders/{id}/submit"), None).await;
    let body = problem(rejected, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(body["error"], json!({"kind": "empty"}));
    assert_eq!(body["detail"], "an order needs at least one line");

    // 400 for malformed JSON, a missing field, an unknown field.
    for bad in [
        r#"{"order_id": "x", "customer": "#,
        r#"{"order_id": "x"}"#,
        r#"{"order_id": "x", "customer": "c", "discount": 5}"#,
        r#"[1, 2]"#,
    ] {
        let response = service
            .client
            .post(service.url("/orders"))
            .header("content-type", "application/json")
            .body(bad)
            .send()
            .await
            .unwrap();
        let body = problem(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            body["type"], "urn:eventsource:problem:invalid-body",
            "{bad}"
        );
    }
    let unknown = service
        .post(
            &format!("/orders/{id}/lines"),
            Some(json!({"sku": "tea", "quantity": 1, "unit_price": 5, "colour": "red"})),
        )
        .await;
    let body = problem(unknown, StatusCode::BAD_REQUEST).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `colour`"),
        "{body}"
    );
    // 415 for a body that is not JSON; 400 for headers that are not ours.
    let not_json = service
        .client
        .post(service.url("/orders"))
        .body("order_id=x")
        .send()
        .await
        .unwrap();
    problem(not_json, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let weak = service
        .post_if_match(
            &format!("/orders/{id}/cancel"),
            "W/\"1\"",
            json!({"reason": "r"}),
        )
        .await;
    problem(weak, StatusCode::BAD_REQUEST).await;
    let bad_position = service.get(&format!("/orders/{id}"), Some("soon")).await;
    problem(bad_position, StatusCode::BAD_REQUEST).await;
    let bad_correlation = service
        .client
        .post(service.url(&format!("/orders/{id}/cancel")))
        .header("x-correlation-id", "not-a-uuid")
        .json(&json!({"reason": "r"}))
        .send()
        .await
        .unwrap();
    problem(bad_correlation, StatusCode::BAD_REQUEST).await;

    // 503 when the read model does not reach the position in time. Positions
    // grow with the server's transaction ids, so a server that has run
    // other work is already past any small number: this one no store reaches.
    let far: u64 = 1 << 60;
    let ahead = service
        .get(&format!("/orders/{id}"), Some(&far.to_string()))
        .await;
    assert_eq!(header(&ahead, "retry-after"), "1");
    let body = problem(ahead, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(body["position"], far);

    // 500 for a stored event the code cannot read, saying nothing of it.
    let broken = order_id("broken");
    service.place(&broken).await;
    let stream_id = format!("orders.Order-{broken}");
    let corrupt = NewEvent::new(
        "orders.LineAdded",
        1,
        r#"{"unexpected": true}"#,
        Metadata::new(),
    );
    service
        .app
        .store
        .append(
            &stream_id,
            "orders.Order",
            ExpectedVersion::Exact(1),
            vec![corrupt],
        )
        .await
        .unwrap();
    let failed = service
        .post(&format!("/orders/{broken}/submit"), None)
        .await;
    let body = problem(failed, StatusCode::INTERNAL_SERVER_ERROR).await;
    let text = body.to_string();
    assert!(body["error_id"].is_string(), "{text}");
    for internal in [
        "orders.",
        "LineAdded",
        "unexpected",
        "payload",
        "decode",
        "line",
    ] {
        assert!(
            !text.contains(internal),
            "the 500 shows `{internal}`: {text}"
        );
    }
}

async fn metadata_from_headers(service: &Service) {
    let id = order_id("metadata");
    let correlation = eventsource::uuid::Uuid::now_v7();
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let placed = service
        .client
        .post(service.url("/orders"))
        .header("x-correlation-id", correlation.to_string())
        .header("traceparent", traceparent)
        .header("tracestate", "congo=t61rcWkgMzE")
        .header("x-user", "ann@example.com")
        .json(&json!({"order_id": id, "customer": "ann"}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), StatusCode::CREATED);
    let stored = stored_metadata(service, &id).await;
    assert_eq!(stored.correlation_id, Some(correlation));
    assert_eq!(stored.actor.as_deref(), Some("ann@example.com"));
    assert_eq!(stored.headers["traceparent"], traceparent);
    assert_eq!(stored.headers["tracestate"], "congo=t61rcWkgMzE");

    // Without a correlation id, the trace's id serves; an invalid
    // traceparent is left out, as the recommendation says.
    let id = order_id("metadata");
    service
        .client
        .post(service.url("/orders"))
        .header("traceparent", traceparent)
        .json(&json!({"order_id": id, "customer": "ann"}))
        .send()
        .await
        .unwrap();
    let stored = stored_metadata(service, &id).await;
    assert_eq!(
        stored.correlation_id.map(|c| c.to_string()).as_deref(),
        Some("4bf92f35-77b3-4da6-a3ce-929d0e0e4736")
    );
    assert_eq!(stored.actor, None);
    let id = order_id("metadata");
    service
        .client
        .post(service.url("/orders"))
        .header("traceparent", "00-not-a-trace")
        .json(&json!({"order_id": id, "customer": "ann"}))
        .send()
        .await
        .unwrap();
    let stored = stored_metadata(service, &id).await;
    assert!(!stored.headers.contains_key("traceparent"), "{stored:?}");
    // The application's actor extractor rejects what it cannot read.
    let anonymous = service
        .client
        .post(service.url("/orders"))
        .header("x-user", " ")
        .json(&json!({"order_id": order_id("metadata"), "customer": "ann"}))
        .send()
        .await
        .unwrap();
    problem(anonymous, StatusCode::BAD_REQUEST).await;
}

/// The metadata of the first event of order `id`.
async fn stored_metadata(service: &Service, id: &str) -> Metadata {
    use futures::TryStreamExt;
    let events: Vec<RecordedEvent> = service
        .app
        .store
        .read_stream(&format!("orders.Order-{id}"), 1)
        .try_collect()
        .await
        .unwrap();
    (*events[0].metadata).clone()
}

async fn if_match_conflicts(service: &Service) {
    let id = order_id("if-match");
    service.place(&id).await;
    let line = json!({"sku": "tea", "quantity": 1, "unit_price": 5});
    let path = format!("/orders/{id}/lines");
    let added = service.post_if_match(&path, "\"1\"", line.clone()).await;
    assert_eq!(added.status(), StatusCode::OK);
    assert_eq!(header(&added, "etag"), "\"2\"");
    let position = header(&added, POSITION);

    // The same stale tag again: a conflict, and nothing appended.
    let stale = service.post_if_match(&path, "\"1\"", line.clone()).await;
    let body = problem(stale, StatusCode::CONFLICT).await;
    assert_eq!(body["type"], "urn:eventsource:problem:version-conflict");
    assert_eq!(body["current_version"], 2);
    let order = service.get(&format!("/orders/{id}"), Some(&position)).await;
    assert_eq!(header(&order, "etag"), "\"2\"");
    let order: Value = order.json().await.unwrap();
    assert_eq!(order["lines"], 1);

    // The ETag a query gave makes the next command's If-Match.
    let etag = header(
        &service.get(&format!("/orders/{id}"), Some(&position)).await,
        "etag",
    );
    let cancelled = service
        .post_if_match(
            &format!("/orders/{id}/cancel"),
            &etag,
            json!({"reason": "late"}),
        )
        .await;
    assert_eq!(cancelled.status(), StatusCode::OK);
    assert_eq!(header(&cancelled, "etag"), "\"3\"");
}

async fn read_your_writes(service: &Service) {
    let id = order_id("ryw");
    let placed = service.place(&id).await;
    let mut position = header(&placed, POSITION);
    for lines in 1..=20u64 {
        let order = service.get(&format!("/orders/{id}"), Some(&position)).await;
        assert_eq!(order.status(), StatusCode::OK);
        let order: Value = order.json().await.unwrap();
        assert_eq!(
            order["lines"],
            lines - 1,
            "the query missed the command before it"
        );
        let added = service
            .post(
                &format!("/orders/{id}/lines"),
                Some(json!({"sku": "tea", "quantity": 1, "unit_price": 10})),
            )
            .await;
        assert_eq!(added.status(), StatusCode::OK);
        position = header(&added, POSITION);
    }
    let order: Value = service
        .get(&format!("/orders/{id}"), Some(&position))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(order["lines"], 20);
    assert_eq!(order["total"], 200);
}

/// Reads server-sent events from `response` until `until` returns true for
/// the statuses seen, within 10 seconds.
async fn read_statuses<B: AsRef<[u8]>>(
    events: &mut (impl futures::Stream<Item = reqwest::Result<B>> + Unpin),
    buffer: &mut String,
    seen: &mut Vec<Value>,
    until: impl Fn(&[Value]) -> bool,
) {
    let read = async {
        while !until(seen) {
            let chunk = events.next().await.expect("the stream goes on").unwrap();
            buffer.push_str(std::str::from_utf8(chunk.as_ref()).unwrap());
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                let mut name = None;
                let mut data = None;
                for line in event.lines() {
                    if let Some(value) = line.strip_prefix("event:") {
                        name = Some(value.trim().to_owned());
                    } else if let Some(value) = line.strip_prefix("data:") {
                        data = Some(value.trim().to_owned());
                    }
                }
                match (name.as_deref(), data) {
                    (Some("answer"), Some(data)) => seen.push(serde_json::from_str(&data).unwrap()),
                    (None, None) => {} // a keep-alive comment
                    other => panic!("unexpected event {other:?}"),
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .unwrap_or_else(|_| panic!("statuses so far: {seen:?}"));
}

async fn sse_status_stream(service: &Service) {
    let restocked = service
        .post("/stock", Some(json!({"sku": "tea", "quantity": 50})))
        .await;
    assert_eq!(restocked.status(), StatusCode::OK);
    let id = order_id("sse");
    let stream = service
        .client
        .get(service.url(&format!("/orders/{id}/status")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(header(&stream, "content-type"), "text/event-stream");
    let mut events = Box::pin(stream.bytes_stream());
    let (mut buffer, mut seen) = (String::new(), Vec::new());
    // No order yet.
    read_statuses(&mut events, &mut buffer, &mut seen, |s| !s.is_empty()).await;
    assert_eq!(seen, [Value::Null]);

    service.place(&id).await;
    read_statuses(&mut events, &mut buffer, &mut seen, |s| s.len() == 2).await;
    let line = json!({"sku": "tea", "quantity": 2, "unit_price": 100});
    service
        .post(&format!("/orders/{id}/lines"), Some(line))
        .await;
    // The saga approves it after the submission; the stream may show
    // `submitted` or go straight to `approved` (it holds the latest only).
    service.post(&format!("/orders/{id}/submit"), None).await;
    read_statuses(&mut events, &mut buffer, &mut seen, |s| {
        s.last() == Some(&json!("approved"))
    })
    .await;
    let shipped = service.post(&format!("/orders/{id}/ship"), None).await;
    assert_eq!(shipped.status(), StatusCode::OK);
    read_statuses(&mut events, &mut buffer, &mut seen, |s| {
        s.last() == Some(&json!("shipped"))
    })
    .await;
    let expected = [
        json!(null),
        json!("open"),
        json!("submitted"),
        json!("approved"),
        json!("shipped"),
    ];
    // In order, each status once (adding a line changed no status, so sent nothing).
    let mut rest = expected.iter();
    for status in &seen {
        assert!(rest.any(|e| e == status), "out of order: {seen:?}");
    }
    assert_eq!(&seen[..2], &expected[..2], "{seen:?}");
    assert_eq!(status_count(service).await, 1);

    // The client goes away: the server notices and closes the subscription.
    drop(events);
    let mut open = 1;
    for _ in 0..100 {
        open = status_count(service).await;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(open, 0, "the subscription outlived its client");
}

/// `live_subscriptions` from `GET /status`.
async fn status_count(service: &Service) -> u64 {
    let status: Value = service.get("/status", None).await.json().await.unwrap();
    status["live_subscriptions"].as_u64().unwrap()
}

async fn openapi_document(service: &Service) {
    let doc: Value = service
        .get("/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/orders",
        "/orders/{id}",
        "/orders/{id}/lines",
        "/orders/{id}/status",
        "/stock",
    ] {
        assert!(doc["paths"][path].is_object(), "no {path} in {doc}");
    }
    let problem = doc["components"]["schemas"]["Problem"].to_string();
    for member in ["\"type\"", "\"title\"", "\"status\"", "\"detail\""] {
        assert!(problem.contains(member), "{member} not in {problem}");
    }
    let conflict = &doc["paths"]["/orders/{id}/lines"]["post"]["responses"]["409"];
    assert!(conflict["content"][PROBLEM].is_object(), "{conflict}");
}

async fn all(service: &Service) {
    status_mappings(service).await;
    metadata_from_headers(service).await;
    if_match_conflicts(service).await;
    read_your_writes(service).await;
    sse_status_stream(service).await;
    openapi_document(service).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_in_memory() {
    let service = Service::in_memory().await;
    all(&service).await;
    service.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_on_postgres() {
    let service = Service::on_postgres(|options| options).await;
    all(&service).await;
    service.finish().await;
}

/// A TCP proxy to PostgreSQL that can cut every connection and refuse new ones.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: (String, u16)) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if flag.load(Ordering::SeqCst) {
                    continue; // dropped: refused
                }
                let target = target.clone();
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
                    let cut = async {
                        while !flag.load(Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    };
                    tokio::select! {
                        _ = copy => {}
                        () = cut => {}
                    }
                });
            }
        });
        Self { port, cut, task }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_out_of_reach_is_a_503() {
    let url = walkthrough::database_url("orders");
    let options = PgConnectOptions::from_str(&url).unwrap();
    let proxy = Proxy::start((options.get_host().to_owned(), options.get_port())).await;
    let port = proxy.port;
    let service = Service::on_postgres(|options| options.host("127.0.0.1").port(port)).await;
    let id = order_id("cut");
    let placed = service.place(&id).await;
    // The summary has the order before the store goes away.
    let seen = service
        .get(&format!("/orders/{id}"), Some(&header(&placed, POSITION)))
        .await;
    assert_eq!(seen.status(), StatusCode::OK);

    proxy.cut.store(true, Ordering::SeqCst);
    // Every connection through the proxy is closed within 10 ms.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let command = service.post(&format!("/orders/{id}/submit"), None).await;
    let retry_after = command.headers().get("retry-after").cloned();
    let body = problem(command, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        retry_after.as_ref().map(|v| v.to_str().unwrap()),
        Some("1"),
        "{body}"
    );
    assert_eq!(body["type"], "urn:eventsource:problem:unavailable");
    let query = service.get(&format!("/orders/{id}"), None).await;
    problem(query, StatusCode::SERVICE_UNAVAILABLE).await;

    proxy.task.abort();
    service.finish().await;
}

/// The README's command: `orders serve --port 0` listens, answers and
/// stops when killed.
#[tokio::test]
async fn the_serve_command_serves() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_orders"))
        .args(["serve", "--port", "0"])
        .env_remove("DATABASE_URL")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the service starts within 30 s")
        .unwrap()
        .expect("a line");
    let base = line
        .strip_prefix("orders service listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    let doc: Value = Client::new()
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["info"]["title"], "orders");
    // The operations console is mounted under /admin, over the same stores,
    // and read-only: its actions are refused.
    let projections: Value = Client::new()
        .get(format!("{base}/admin/api/projections"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = projections
        .as_array()
        .unwrap_or_else(|| panic!("a list of projections: {projections}"))
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(names.contains(&"orders.fulfilment"), "{projections}");
    let pause = Client::new()
        .post(format!(
            "{base}/admin/api/projections/orders.fulfilment/pause"
        ))
        .send()
        .await
        .unwrap();
    assert!(pause.status().is_client_error(), "{:?}", pause.status());
    child.kill().await.unwrap();
}
