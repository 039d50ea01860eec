//! The web console: the same operations over HTTP, as an axum router the
//! application mounts. Pages are plain HTML with a little script and no
//! build step; each reads the JSON endpoints next to it, and the
//! projections page refreshes live through server-sent events.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use eventsource::ops::{Operations, OpsError, Until, registry_view};
use eventsource::projection::ControlCommand;
use eventsource::registry::{Catalogue, FlowGraph};
use eventsource::store::StreamQuery;
use futures::Stream;
use serde::Deserialize;

use crate::exit::{Exit, exit_for};

/// The console's settings: where it is mounted, and whether it may change
/// anything.
///
/// ```no_run
/// use eventsource_admin::Console;
///
/// # async fn demo(ops: eventsource::ops::Operations) -> std::io::Result<()> {
/// let app = axum::Router::new().nest("/admin", Console::new(ops).at("/admin").router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// axum::serve(listener, app).await
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Console {
    ops: Operations,
    base: String,
    actions: bool,
    refresh: Duration,
}

impl Console {
    /// A read-only console over `ops`, mounted at the root.
    pub fn new(ops: Operations) -> Self {
        Self {
            ops,
            base: String::new(),
            actions: false,
            refresh: Duration::from_millis(500),
        }
    }

    /// The path the application nests the router under (`"/admin"`), which
    /// pages use to link to each other.
    pub fn at(mut self, base: &str) -> Self {
        self.base = base.trim_end_matches('/').to_owned();
        self
    }

    /// Enables the actions that change something: pause, resume and rebuild
    /// of projections, retry and skip of parked events. Off by default: the
    /// console only reads.
    pub fn with_actions(mut self, enabled: bool) -> Self {
        self.actions = enabled;
        self
    }

    /// How often the live projections page is refreshed (default 500 ms).
    pub fn with_refresh(mut self, every: Duration) -> Self {
        self.refresh = every.max(Duration::from_millis(50));
        self
    }

    /// The router: pages at `/`, `/dead-letters`, `/streams`,
    /// `/streams/{id}`, `/registry` (with the event-flow graph, also at
    /// `/registry/graph.svg`), `/catalogue` and `/check`; JSON under `/api`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(projections_page))
            .route("/dead-letters", get(dead_letters_page))
            .route("/streams", get(streams_page))
            .route("/streams/{id}", get(stream_page))
            .route("/registry", get(registry_page))
            .route("/registry/graph.svg", get(graph_svg))
            .route("/catalogue", get(catalogue_page))
            .route("/check", get(check_page))
            .route("/api/projections", get(projections_json))
            .route("/api/projections/live", get(projections_live))
            .route("/api/projections/{name}/{action}", post(control))
            .route("/api/dead-letters", get(dead_letters_json))
            .route(
                "/api/dead-letters/{projection}/{position}/retry",
                post(retry),
            )
            .route("/api/dead-letters/{projection}/{position}/skip", post(skip))
            .route("/api/streams", get(streams_json))
            .route("/api/streams/{id}", get(stream_json))
            .route("/api/registry", get(registry_json))
            .route("/api/registry/graph", get(graph_json))
            .route("/api/catalogue", get(catalogue_json))
            .route("/api/check", get(check_json))
            .with_state(Arc::new(self))
    }
}

type Shared = State<Arc<Console>>;

/// An operation's error as an HTTP answer with a JSON body.
struct Failure(OpsError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status = match exit_for(&self.0) {
            Exit::NotFound => StatusCode::NOT_FOUND,
            Exit::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Exit::Usage => StatusCode::BAD_REQUEST,
            Exit::Unavailable => StatusCode::NOT_IMPLEMENTED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let body = serde_json::json!({ "error": self.0.to_string() });
        (status, Json(body)).into_response()
    }
}

impl From<OpsError> for Failure {
    fn from(error: OpsError) -> Self {
        Self(error)
    }
}

fn forbidden() -> Response {
    let body = serde_json::json!({
        "error": "this console is read-only; the application enables actions with Console::with_actions(true)"
    });
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

/// Text safe inside HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A path segment safe inside a URL.
fn segment(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}\
nav a{margin-right:1rem}table{border-collapse:collapse;margin:1rem 0}\
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}\
th{background:#f3f3f3}.live{color:#070}.paused,.stopped,.bad{color:#b00}\
.catching_up,.rebuilding{color:#a60}pre{margin:0;white-space:pre-wrap}";

fn page(console: &Console, title: &str, body: &str) -> Html<String> {
    let base = escape(&console.base);
    // A router nested at `/admin` answers `/admin`, not `/admin/`.
    let home = if base.is_empty() {
        "/".to_owned()
    } else {
        base.clone()
    };
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title} · eventsource</title>\
         <style>{STYLE}</style></head><body data-base=\"{base}\" data-actions=\"{actions}\">\
         <nav><a href=\"{home}\">projections</a><a href=\"{base}/dead-letters\">dead letters</a>\
         <a href=\"{base}/streams\">streams</a><a href=\"{base}/registry\">registry</a>\
         <a href=\"{base}/catalogue\">catalogue</a><a href=\"{base}/check\">check</a></nav><h1>{title}</h1>{body}</body></html>",
        title = escape(title),
        actions = console.actions,
    ))
}

/// The script of the projections page: live rows from the event stream.
const PROJECTIONS_SCRIPT: &str = r#"<script>
const base = document.body.dataset.base, actions = document.body.dataset.actions === "true";
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function act(slot, action) {
  fetch(base + "/api/projections/" + encodeURIComponent(slot) + "/" + action, {method: "POST"})
    .then(r => r.json()).then(j => { document.getElementById("message").textContent = j.error || (slot + ": " + action + " " + j.status); });
}
function render(list) {
  const body = document.getElementById("projections");
  body.replaceChildren();
  for (const p of list) {
    const row = body.insertRow();
    row.dataset.slot = p.slot;
    cell(row, p.slot + (p.active ? "" : " (inactive)"), "name");
    cell(row, p.kind);
    cell(row, p.phase.replace("_", " "), "phase " + p.phase);
    cell(row, p.checkpoint === null ? "-" : p.checkpoint, "checkpoint");
    cell(row, p.head, "head");
    cell(row, p.lag, "lag");
    cell(row, p.lag_seconds.toFixed(1), "lag-seconds");
    cell(row, p.owner || "-", "owner");
    cell(row, p.lease_expires_at || "-");
    cell(row, p.parked, "parked" + (p.parked > 0 ? " bad" : ""));
    const tools = row.insertCell();
    if (actions) {
      for (const a of ["pause", "resume", "rebuild"]) {
        const b = document.createElement("button"); b.textContent = a; b.className = a;
        b.onclick = () => act(p.slot, a); tools.appendChild(b);
      }
    }
  }
  document.getElementById("updated").textContent = new Date().toISOString();
}
const live = new EventSource(base + "/api/projections/live");
live.onmessage = e => render(JSON.parse(e.data));
</script>"#;

async fn projections_page(State(console): Shared) -> Html<String> {
    let body = format!(
        "<p>Refreshed live; last update <span id=\"updated\">-</span>.</p><p id=\"message\"></p>\
         <table><thead><tr><th>projection</th><th>kind</th><th>state</th><th>checkpoint</th>\
         <th>head</th><th>lag</th><th>lag (s)</th><th>owner</th><th>lease until</th><th>parked</th>\
         <th></th></tr></thead><tbody id=\"projections\"></tbody></table>{PROJECTIONS_SCRIPT}"
    );
    page(&console, "Projections", &body)
}

async fn projections_json(State(console): Shared) -> Result<Response, Failure> {
    Ok(Json(console.ops.projections().await?).into_response())
}

async fn projections_live(
    State(console): Shared,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures::stream::unfold(
        (console, None::<String>, true),
        |(console, last, first)| async move {
            loop {
                if !first || last.is_some() {
                    console.ops.clock().sleep(console.refresh).await;
                }
                let data = match console.ops.projections().await {
                    Ok(list) => serde_json::to_string(&list).unwrap_or_default(),
                    Err(error) => {
                        let event = Event::default().event("failure").data(error.to_string());
                        return Some((Ok(event), (console, None, false)));
                    }
                };
                if last.as_deref() != Some(data.as_str()) {
                    let event = Event::default().data(data.clone());
                    return Some((Ok(event), (console, Some(data), false)));
                }
            }
        },
    );
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn control(
    State(console): Shared,
    Path((name, action)): Path<(String, String)>,
) -> Result<Response, Failure> {
    if !console.actions {
        return Ok(forbidden());
    }
    let command = match action.as_str() {
        "pause" => ControlCommand::Pause,
        "resume" => ControlCommand::Resume,
        "rebuild" => ControlCommand::Rebuild,
        other => {
            return Err(Failure(OpsError::Invalid(format!(
                "unknown action `{other}` (pause, resume, rebuild)"
            ))));
        }
    };
    let request = console.ops.request(&name, command, Some("console")).await?;
    let until = if command == ControlCommand::Rebuild {
        Until::Taken
    } else {
        Until::Final
    };
    let request = console
        .ops
        .await_request(request.id, until, Duration::from_secs(30))
        .await?;
    Ok(Json(request).into_response())
}

/// The script of the dead-letters page: the list, refreshed, with buttons.
const DEAD_LETTERS_SCRIPT: &str = r#"<script>
const base = document.body.dataset.base, actions = document.body.dataset.actions === "true";
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function post(url, body) {
  return fetch(url, {method: "POST", headers: {"content-type": "application/json"}, body: JSON.stringify(body || {})})
    .then(r => r.json()).then(j => { document.getElementById("message").textContent = j.error || ""; load(); });
}
function load() {
  fetch(base + "/api/dead-letters").then(r => r.json()).then(list => {
    const body = document.getElementById("dead-letters");
    body.replaceChildren();
    for (const d of list) {
      const row = body.insertRow();
      row.dataset.projection = d.projection; row.dataset.position = d.global_position;
      cell(row, d.projection); cell(row, d.global_position, "position");
      cell(row, d.stream_id + "@" + d.stream_version); cell(row, d.event_name + " v" + d.schema_version);
      cell(row, d.attempts); cell(row, d.error, "bad");
      const raw = row.insertCell(); const pre = document.createElement("pre");
      pre.textContent = d.payload + "\n" + d.metadata; raw.appendChild(pre);
      const tools = row.insertCell();
      if (actions) {
        const url = base + "/api/dead-letters/" + encodeURIComponent(d.projection) + "/" + d.global_position;
        const retry = document.createElement("button"); retry.textContent = "retry"; retry.className = "retry";
        retry.onclick = () => post(url + "/retry"); tools.appendChild(retry);
        const skip = document.createElement("button"); skip.textContent = "skip"; skip.className = "skip";
        skip.onclick = () => { const reason = prompt("Why skip this event?"); if (reason) post(url + "/skip", {reason}); };
        tools.appendChild(skip);
      }
    }
    document.getElementById("count").textContent = list.length;
  });
}
load(); setInterval(load, 2000);
</script>"#;

async fn dead_letters_page(State(console): Shared) -> Html<String> {
    let body = format!(
        "<p><span id=\"count\">-</span> parked event(s).</p><p id=\"message\" class=\"bad\"></p>\
         <table><thead><tr><th>projection</th><th>position</th><th>stream</th><th>event</th>\
         <th>attempts</th><th>reason</th><th>record</th><th></th></tr></thead>\
         <tbody id=\"dead-letters\"></tbody></table>{DEAD_LETTERS_SCRIPT}"
    );
    page(&console, "Dead letters", &body)
}

async fn dead_letters_json(State(console): Shared) -> Result<Response, Failure> {
    let letters = console.ops.dead_letters(None).await?;
    // The slot the event is parked under is what retry and skip take.
    let list: Vec<serde_json::Value> = letters
        .iter()
        .map(|d| serde_json::to_value(&d.parked).unwrap_or_default())
        .collect();
    Ok(Json(list).into_response())
}

async fn retry(
    State(console): Shared,
    Path((projection, position)): Path<(String, u64)>,
) -> Result<Response, Failure> {
    if !console.actions {
        return Ok(forbidden());
    }
    let request = console
        .ops
        .retry(&projection, Some(position), Some("console"))
        .await?;
    let done = console
        .ops
        .await_request(request.id, Until::Final, Duration::from_secs(30))
        .await?;
    Ok(Json(done).into_response())
}

/// The body of a skip.
#[derive(Debug, Deserialize)]
struct SkipBody {
    reason: String,
}

async fn skip(
    State(console): Shared,
    Path((projection, position)): Path<(String, u64)>,
    Json(body): Json<SkipBody>,
) -> Result<Response, Failure> {
    if !console.actions {
        return Ok(forbidden());
    }
    let letter = console
        .ops
        .skip(&projection, position, &body.reason, Some("console"))
        .await?;
    Ok(Json(letter).into_response())
}

/// The filters of the stream list.
#[derive(Debug, Default, Deserialize)]
struct StreamFilter {
    #[serde(rename = "type")]
    aggregate_type: Option<String>,
    prefix: Option<String>,
    after: Option<String>,
    limit: Option<usize>,
}

impl StreamFilter {
    fn query(self) -> StreamQuery {
        let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        StreamQuery {
            aggregate_type: blank(self.aggregate_type),
            prefix: blank(self.prefix),
            after: blank(self.after),
            limit: self.limit.unwrap_or(100).min(1000),
        }
    }
}

async fn streams_page(
    State(console): Shared,
    Query(filter): Query<StreamFilter>,
) -> Result<Html<String>, Failure> {
    let query = filter.query();
    let streams = console.ops.streams(&query).await?;
    let base = escape(&console.base);
    let mut body = format!(
        "<form><label>type <input name=\"type\" value=\"{}\"></label> \
         <label>prefix <input name=\"prefix\" value=\"{}\"></label> <button>list</button></form>\
         <table><thead><tr><th>stream</th><th>type</th><th>version</th><th>last change</th></tr></thead><tbody>",
        escape(query.aggregate_type.as_deref().unwrap_or("")),
        escape(query.prefix.as_deref().unwrap_or(""))
    );
    for s in &streams {
        body.push_str(&format!(
            "<tr><td><a href=\"{base}/streams/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            segment(&s.stream_id),
            escape(&s.stream_id),
            escape(&s.aggregate_type),
            s.version,
            s.last_recorded_at.to_rfc3339()
        ));
    }
    body.push_str("</tbody></table>");
    Ok(page(&console, "Streams", &body))
}

async fn streams_json(
    State(console): Shared,
    Query(filter): Query<StreamFilter>,
) -> Result<Response, Failure> {
    let streams = console.ops.streams(&filter.query()).await?;
    Ok(Json(streams).into_response())
}

/// How a stream is shown.
#[derive(Debug, Default, Deserialize)]
struct StreamView {
    #[serde(default)]
    raw: bool,
}

async fn stream_page(
    State(console): Shared,
    Path(id): Path<String>,
    Query(view): Query<StreamView>,
) -> Result<Html<String>, Failure> {
    let events = console.ops.stream(&id, view.raw, None, None).await?;
    let mut body = format!(
        "<p><a href=\"?raw={}\">{}</a></p><table><thead><tr><th>version</th><th>position</th>\
         <th>event</th><th>recorded</th><th>payload</th><th>metadata</th></tr></thead><tbody>",
        !view.raw,
        if view.raw { "decoded" } else { "as stored" }
    );
    for e in &events {
        let stored = if e.stored_name != e.event_name || e.stored_version != e.schema_version {
            format!(
                "<br><small>stored as {} v{}</small>",
                escape(&e.stored_name),
                e.stored_version
            )
        } else {
            String::new()
        };
        let payload = match &e.decode_error {
            Some(error) => format!(
                "<span class=\"bad\">cannot decode: {}</span><pre>{}</pre>",
                escape(error),
                escape(&e.payload.to_string())
            ),
            None => format!(
                "<pre>{}</pre>",
                escape(&serde_json::to_string_pretty(&e.payload).unwrap_or_default())
            ),
        };
        body.push_str(&format!(
            "<tr class=\"event\"><td>{}</td><td>{}</td><td class=\"name\">{} v{}{stored}</td><td>{}</td><td>{payload}</td><td><pre>{}</pre></td></tr>",
            e.stream_version,
            e.global_position,
            escape(&e.event_name),
            e.schema_version,
            e.recorded_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            escape(&e.metadata.to_string())
        ));
    }
    body.push_str("</tbody></table>");
    Ok(page(&console, &format!("Stream {id}"), &body))
}

async fn stream_json(
    State(console): Shared,
    Path(id): Path<String>,
    Query(view): Query<StreamView>,
) -> Result<Response, Failure> {
    Ok(Json(console.ops.stream(&id, view.raw, None, None).await?).into_response())
}

async fn registry_page(State(console): Shared) -> Html<String> {
    let view = registry_view(console.ops.registry());
    let mut body = String::from(
        "<h2>Events</h2><table><thead><tr><th>event</th><th>version</th><th>aliases</th>\
         <th>upcasters</th><th>type</th></tr></thead><tbody>",
    );
    for e in &view.events {
        let chain: Vec<String> = e
            .upcasters
            .iter()
            .map(|u| format!("{}→{} {}", u.from, u.to, escape(&u.function)))
            .collect();
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&e.name),
            e.version,
            escape(&e.aliases.join(", ")),
            chain.join("<br>"),
            escape(&e.rust_type)
        ));
    }
    body.push_str("</tbody></table>");
    let handlers = [
        (
            "Aggregates",
            view.aggregates
                .iter()
                .map(|a| (a.name.clone(), a.events.join(", "), a.rust_type.clone()))
                .collect::<Vec<_>>(),
        ),
        (
            "Projections",
            view.projections
                .iter()
                .map(|p| {
                    (
                        format!("{} v{}", p.name, p.version),
                        p.events.join(", "),
                        p.rust_type.clone(),
                    )
                })
                .collect(),
        ),
        (
            "Sagas",
            view.sagas
                .iter()
                .map(|s| (s.name.clone(), s.events.join(", "), s.rust_type.clone()))
                .collect(),
        ),
        (
            "Commands",
            view.commands
                .iter()
                .map(|c| (c.name.clone(), c.aggregate.clone(), c.rust_type.clone()))
                .collect(),
        ),
    ];
    for (title, rows) in handlers {
        body.push_str(&format!(
            "<h2>{title}</h2><table><thead><tr><th>name</th><th>{}</th><th>type</th></tr></thead><tbody>",
            if title == "Commands" { "aggregate" } else { "events" }
        ));
        for (name, events, rust_type) in rows {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&name),
                escape(&events),
                escape(&rust_type)
            ));
        }
        body.push_str("</tbody></table>");
    }
    if view.problems.is_empty() {
        body.push_str("<p class=\"live\">Validation: no problems.</p>");
    } else {
        body.push_str("<h2 class=\"bad\">Validation problems</h2><ul>");
        for problem in &view.problems {
            body.push_str(&format!("<li>{}</li>", escape(problem)));
        }
        body.push_str("</ul>");
    }
    // Drawn by the framework from names it escapes; links to the catalogue.
    body.push_str(&format!(
        "<h2>Event flow</h2><p><a href=\"{base}/catalogue\">event catalogue</a></p><div class=\"flow\">{}</div>",
        FlowGraph::of(console.ops.registry()).to_svg(),
        base = escape(&console.base)
    ));
    page(&console, "Registry", &body)
}

async fn graph_svg(State(console): Shared) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "image/svg+xml")],
        FlowGraph::of(console.ops.registry()).to_svg(),
    )
        .into_response()
}

async fn graph_json(State(console): Shared) -> Response {
    Json(FlowGraph::of(console.ops.registry())).into_response()
}

async fn catalogue_json(State(console): Shared) -> Response {
    Json(Catalogue::of(console.ops.registry())).into_response()
}

async fn catalogue_page(State(console): Shared) -> Html<String> {
    let catalogue = Catalogue::of(console.ops.registry());
    let mut body = String::new();
    let list = |items: &[String]| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            escape(&items.join(", "))
        }
    };
    for event in &catalogue.events {
        let chain: Vec<String> = event
            .upcasters
            .iter()
            .map(|(from, function)| format!("{from}→{} {}", from + 1, escape(function)))
            .collect();
        body.push_str(&format!(
            "<h2 id=\"{name}\">{name}</h2><table><tbody>\
             <tr><th>version</th><td>{}</td></tr><tr><th>aliases</th><td>{}</td></tr>\
             <tr><th>upcasters</th><td>{}</td></tr><tr><th>emitted by</th><td>{}</td></tr>\
             <tr><th>projections</th><td>{}</td></tr><tr><th>sagas</th><td>{}</td></tr>\
             <tr><th>type</th><td>{}</td></tr></tbody></table>",
            event.version,
            list(&event.aliases),
            if chain.is_empty() {
                "none".to_owned()
            } else {
                chain.join("<br>")
            },
            list(&event.emitted_by),
            list(&event.projections),
            list(&event.sagas),
            escape(&event.rust_type),
            name = escape(&event.name),
        ));
        for version in event.versions.iter().rev() {
            let schema = match &version.schema {
                Some(schema) => escape(&serde_json::to_string_pretty(schema).unwrap_or_default()),
                None => "no schema: the type does not derive schemars::JsonSchema".to_owned(),
            };
            body.push_str(&format!(
                "<h3>version {}</h3><pre>{schema}</pre>",
                version.version
            ));
        }
    }
    if catalogue.events.is_empty() {
        body.push_str("<p>No events are registered.</p>");
    }
    page(&console, "Event catalogue", &body)
}

async fn registry_json(State(console): Shared) -> Response {
    Json(registry_view(console.ops.registry())).into_response()
}

async fn check_page(State(console): Shared) -> Result<Html<String>, Failure> {
    let report = console.ops.check().await?;
    let mut body = if report.passed() {
        format!(
            "<p class=\"live\" id=\"verdict\">This program decodes every event in the store ({} events, {} names and versions).</p>",
            report.events, report.scanned
        )
    } else {
        format!(
            "<p class=\"bad\" id=\"verdict\">{} of {} stored names and versions cannot be decoded by this program.</p>",
            report.problems.len(),
            report.scanned
        )
    };
    if !report.passed() {
        body.push_str(
            "<table><thead><tr><th>event</th><th>version</th><th>count</th><th>problem</th>\
             <th>read by</th></tr></thead><tbody>",
        );
        for p in &report.problems {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"bad\">{}</td><td>{}</td></tr>",
                escape(&p.stored.event_name),
                p.stored.schema_version,
                p.stored.count,
                escape(&p.message),
                escape(&p.read_by.join(", "))
            ));
        }
        body.push_str("</tbody></table>");
    }
    Ok(page(&console, "Check", &body))
}

async fn check_json(State(console): Shared) -> Result<Response, Failure> {
    Ok(Json(console.ops.check().await?).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_segments_are_escaped() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(segment("order 1/é@v2"), "order%201%2F%C3%A9@v2");
    }
}
