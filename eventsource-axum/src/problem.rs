//! RFC 9457 problem details: the body of every error response.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};

/// The media type of a problem document.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem document (RFC 9457), sent with its status code as
/// `application/problem+json`.
///
/// Handlers return `Result<_, Problem>`: command, query and request errors
/// convert into it with `?` (see the crate docs for the status of each).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the problem type; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Members particular to the problem type (the domain error of a
    /// rejected command, the current version of a conflict).
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub extensions: Map<String, Value>,
    /// Sent as `Retry-After` (whole seconds) when set.
    #[serde(skip)]
    pub retry_after: Option<Duration>,
}

impl Problem {
    /// A problem of type `about:blank` with the status's reason as title.
    pub fn new(status: StatusCode) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: None,
            extensions: Map::new(),
            retry_after: None,
        }
    }

    /// A problem of type `urn:eventsource:problem:{name}` titled `title`.
    pub fn typed(status: StatusCode, name: &str, title: &str) -> Self {
        Self {
            kind: format!("urn:eventsource:problem:{name}"),
            title: title.to_owned(),
            ..Self::new(status)
        }
    }

    /// 404 with `detail`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::typed(StatusCode::NOT_FOUND, "not-found", "Not found").with_detail(detail)
    }

    /// 400 with `detail`: the request itself is wrong.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::typed(StatusCode::BAD_REQUEST, "bad-request", "Bad request").with_detail(detail)
    }

    /// 500 for `error`, which is logged (with an id the response carries)
    /// and not shown: a client learns nothing of the server's internals.
    pub fn internal(error: &dyn std::fmt::Display) -> Self {
        let id = eventsource::clock::Clock::current().uuid_v7();
        tracing::error!(error_id = %id, %error, "request failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR)
            .with_detail(format!("the server failed; it logged the error as {id}"))
            .with_extension("error_id", id.to_string())
    }

    /// 503 for `error`, which is logged, not shown; the client may retry.
    pub fn unavailable(error: &dyn std::fmt::Display) -> Self {
        tracing::warn!(%error, "a store is unavailable");
        Self::typed(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
        )
        .with_detail("a store the service depends on cannot be reached; try again later")
        .with_retry_after(Duration::from_secs(1))
    }

    /// Sets the detail.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Adds an extension member.
    pub fn with_extension(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// Sends `Retry-After`.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.title)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = match serde_json::to_vec(&self) {
            Ok(body) => body,
            // A problem is strings and JSON values: it always serializes.
            Err(_) => br#"{"type":"about:blank","status":500}"#.to_vec(),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(after) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(after.as_secs().max(1)),
            );
        }
        response
    }
}
