//! The order service over HTTP: commands and queries as routes, an SSE
//! stream of an order's status, and the OpenAPI document of it all.
//!
//! | route | what |
//! |---|---|
//! | `POST /stock` | restock the warehouse |
//! | `POST /orders` | place an order (201, `Location`) |
//! | `POST /orders/{id}/lines` | add a line |
//! | `POST /orders/{id}/submit` | submit it for fulfilment |
//! | `POST /orders/{id}/ship` | ship it |
//! | `POST /orders/{id}/cancel` | cancel it |
//! | `GET /orders/{id}` | its summary, with its version as `ETag` |
//! | `GET /orders/{id}/status` | its status as server-sent events |
//! | `GET /status` | the projections and open subscriptions |
//! | `GET /openapi.json` | the OpenAPI document |
//!
//! A command's response carries `Eventsource-Position`; sent back with a
//! query, the answer reflects the command. Commands on an order take
//! `If-Match` with the `ETag` a query or a command gave.

use axum::extract::FromRequestParts;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json as JsonResponse, Router};
use eventsource::ExpectedVersion;
use eventsource::prelude::*;
use eventsource_axum::{Actor, Appended, CommandMetadata, IfMatch, Json, Problem, ReadAfter};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::app::App;
use crate::inventory::Restock;
use crate::order::{AddLine, CancelOrder, Line, PlaceOrder, ShipOrder, SubmitOrder};
use crate::queries::{GetOrder, OrderStatus};
use crate::saga::WAREHOUSE;
use crate::summary::OrderSummary;

/// The service's routes over `app`.
pub fn router(app: App) -> Router {
    Router::new()
        .route("/stock", post(restock))
        .route("/orders", post(place_order))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/lines", post(add_line))
        .route("/orders/{id}/submit", post(submit_order))
        .route("/orders/{id}/ship", post(ship_order))
        .route("/orders/{id}/cancel", post(cancel_order))
        .route("/orders/{id}/status", get(order_status))
        .route("/status", get(service_status))
        .route("/openapi.json", get(openapi))
        .with_state(app)
}

/// The OpenAPI document, generated from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "orders",
        description = "The order example of eventsource, over HTTP."
    ),
    paths(
        restock,
        place_order,
        add_line,
        submit_order,
        ship_order,
        cancel_order,
        get_order,
        order_status,
        service_status
    ),
    components(schemas(
        RestockBody,
        PlaceOrderBody,
        LineBody,
        CancelBody,
        OrderSummary,
        ServiceStatus,
        ProjectionView,
        Problem
    ))
)]
pub struct ApiDoc;

/// `POST /stock`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestockBody {
    /// The product.
    pub sku: String,
    /// How many arrived.
    pub quantity: u32,
}

/// `POST /orders`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrderBody {
    /// The new order's id.
    pub order_id: String,
    /// Who places it.
    pub customer: String,
}

/// `POST /orders/{id}/lines`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineBody {
    /// The product.
    pub sku: String,
    /// How many.
    pub quantity: u32,
    /// Unit price in cents.
    pub unit_price: i64,
}

/// `POST /orders/{id}/cancel`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Why.
    pub reason: String,
}

/// `GET /status`.
#[derive(Serialize, ToSchema)]
pub struct ServiceStatus {
    /// Which store.
    pub store: String,
    /// Each projection and saga.
    pub projections: Vec<ProjectionView>,
    /// Open subscriptions (SSE streams).
    pub live_subscriptions: usize,
}

/// One projection in `GET /status`.
#[derive(Serialize, ToSchema)]
pub struct ProjectionView {
    /// Its name.
    pub name: String,
    /// What it is doing.
    pub state: String,
    /// Its committed position.
    pub position: Option<u64>,
    /// Events it has yet to process.
    pub lag: u64,
    /// Events parked after failing.
    pub parked: u64,
}

type Answer = Result<Response, Problem>;

/// The header naming who sends a command (in a real service, a verified
/// token's subject; here, what a gateway in front would set).
pub const USER: &str = "x-user";

/// Who sends a request: the `X-User` header, recorded as the actor of the
/// command's events; absent, nobody is recorded.
#[derive(Clone, Debug)]
pub struct Caller(Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        match parts.headers.get(USER) {
            None => Ok(Self(None)),
            Some(value) => value
                .to_str()
                .ok()
                .filter(|user| !user.trim().is_empty())
                .map(|user| Self(Some(user.trim().to_owned())))
                .ok_or_else(|| Problem::bad_request(format!("the {USER} header must name a user"))),
        }
    }
}

impl Actor for Caller {
    fn actor(&self) -> Option<String> {
        self.0.clone()
    }
}

/// Runs an order command with the request's metadata and `If-Match`.
async fn order_command<C>(
    app: &App,
    command: C,
    metadata: Metadata,
    expected: ExpectedVersion,
) -> Answer
where
    C: Command<Aggregate = crate::order::Order>,
    crate::order::Order: Handles<C, Error = crate::order::OrderError>,
{
    let done = app
        .bus
        .dispatch_expecting(command, metadata, expected)
        .await?;
    Ok(Appended::from(&done).into_response())
}

#[utoipa::path(
    post, path = "/stock", request_body = RestockBody,
    responses(
        (status = 200, description = "Restocked; `Eventsource-Position` and `ETag` set"),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn restock(
    State(app): State<App>,
    CommandMetadata(metadata, _): CommandMetadata<Caller>,
    Json(body): Json<RestockBody>,
) -> Answer {
    let command = Restock {
        warehouse: WAREHOUSE.into(),
        sku: body.sku,
        quantity: body.quantity,
    };
    let done = app.bus.dispatch_with(command, metadata).await?;
    Ok(Appended::from(&done).into_response())
}

#[utoipa::path(
    post, path = "/orders", request_body = PlaceOrderBody,
    responses(
        (status = 201, description = "Placed; `Location`, `Eventsource-Position` and `ETag` set"),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The order exists", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn place_order(
    State(app): State<App>,
    CommandMetadata(metadata, _): CommandMetadata<Caller>,
    Json(body): Json<PlaceOrderBody>,
) -> Answer {
    let location = format!("/orders/{}", body.order_id);
    let command = PlaceOrder {
        order_id: body.order_id,
        customer: body.customer,
    };
    let done = app.bus.dispatch_with(command, metadata).await?;
    let mut response = (StatusCode::CREATED, Appended::from(&done)).into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[utoipa::path(
    post, path = "/orders/{id}/lines", request_body = LineBody,
    params(("id" = String, Path, description = "The order"), ("If-Match" = Option<String>, Header, description = "The version the command expects")),
    responses(
        (status = 200, description = "Added"),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by the order", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn add_line(
    State(app): State<App>,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
    CommandMetadata(metadata, _): CommandMetadata<Caller>,
    Json(body): Json<LineBody>,
) -> Answer {
    let line = Line {
        sku: body.sku,
        quantity: body.quantity,
        unit_price: body.unit_price,
    };
    order_command(&app, AddLine { order_id: id, line }, metadata, expected).await
}

#[utoipa::path(
    post, path = "/orders/{id}/submit",
    params(("id" = String, Path, description = "The order"), ("If-Match" = Option<String>, Header, description = "The version the command expects")),
    responses(
        (status = 200, description = "Submitted; the fulfilment saga takes it from here"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by the order", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn submit_order(
    State(app): State<App>,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
    CommandMetadata(metadata, _): CommandMetadata<Caller>,
) -> Answer {
    order_command(&app, SubmitOrder { order_id: id }, metadata, expected).await
}

#[utoipa::path(
    post, path = "/orders/{id}/ship",
    params(("id" = String, Path, description = "The order"), ("If-Match" = Option<String>, Header, description = "The version the command expects")),
    responses(
        (status = 200, description = "Shipped"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by the order", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn ship_order(
    State(app): State<App>,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
    CommandMetadata(metadata, _): CommandMetadata<Caller>,
) -> Answer {
    order_command(&app, ShipOrder { order_id: id }, metadata, expected).await
}

#[utoipa::path(
    post, path = "/orders/{id}/cancel", request_body = CancelBody,
    params(("id" = String, Path, description = "The order"), ("If-Match" = Option<String>, Header, description = "The version the command expects")),
    responses(
        (status = 200, description = "Cancelled"),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Version conflict", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Refused by the order", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn cancel_order(
    State(app): State<App>,
    Path(id): Path<String>,
    IfMatch(expected): IfMatch,
    CommandMetadata(metadata, _): CommandMetadata<Caller>,
    Json(body): Json<CancelBody>,
) -> Answer {
    let command = CancelOrder {
        order_id: id,
        reason: body.reason,
    };
    order_command(&app, command, metadata, expected).await
}

#[utoipa::path(
    get, path = "/orders/{id}",
    params(("id" = String, Path, description = "The order"), ("Eventsource-Position" = Option<u64>, Header, description = "Answer once the summary reflects this position (a command's response gave it)")),
    responses(
        (status = 200, description = "The order's summary; `ETag` is its version", body = OrderSummary),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The summary did not reach the position in time", body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_order(
    State(app): State<App>,
    Path(id): Path<String>,
    ReadAfter(position): ReadAfter,
) -> Answer {
    let summary = app
        .queries
        .query(GetOrder {
            order_id: id.clone(),
        })
        .at_least_opt(position)
        .await?
        .ok_or_else(|| Problem::not_found(format!("no order `{id}`")))?;
    let etag = eventsource_axum::etag(summary.version);
    Ok(([(header::ETAG, etag)], JsonResponse(summary)).into_response())
}

#[utoipa::path(
    get, path = "/orders/{id}/status",
    params(("id" = String, Path, description = "The order")),
    responses(
        (status = 200, description = "Server-sent `answer` events: the order's status (JSON, `null` while there is no such order), now and at each change; each event's id is the position it reflects", content_type = "text/event-stream"),
    )
)]
async fn order_status(State(app): State<App>, Path(id): Path<String>) -> Answer {
    let subscription = app.queries.subscribe(OrderStatus { order_id: id }).await?;
    Ok(eventsource_axum::live_with(subscription, app.keep_alive).into_response())
}

#[utoipa::path(
    get, path = "/status",
    responses((status = 200, description = "The projections and the open subscriptions", body = ServiceStatus))
)]
async fn service_status(State(app): State<App>) -> Answer {
    let mut projections = Vec::new();
    for name in app.runner.names() {
        let status = app
            .runner
            .status(name)
            .await
            .map_err(|e| Problem::internal(&e))?;
        projections.push(ProjectionView {
            name: status.name,
            state: format!("{:?}", status.state),
            position: status.position,
            lag: status.lag,
            parked: status.parked,
        });
    }
    let status = ServiceStatus {
        store: app.kind.clone(),
        projections,
        live_subscriptions: app.queries.live_subscriptions(),
    };
    Ok(JsonResponse(status).into_response())
}

async fn openapi() -> JsonResponse<utoipa::openapi::OpenApi> {
    JsonResponse(ApiDoc::openapi())
}
