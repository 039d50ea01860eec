//! Read-your-writes across requests: a command's response carries the
//! position its events were appended at, and a query request that sends it
//! back waits until the read model has processed the log up to there.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use eventsource::Aggregate;
use eventsource::repository::Executed;

use crate::concurrency::etag;
use crate::problem::Problem;

/// The header with a global position: in a command's response, where its
/// events were appended; in a query's request, what the answer must
/// reflect.
pub const POSITION: &str = "eventsource-position";

/// The position a query request asks its answer to reflect (its
/// `Eventsource-Position` header), for
/// [`QueryCall::at_least_opt`](eventsource::query::QueryCall::at_least_opt).
/// A header that is not a number is a 400.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadAfter(pub Option<u64>);

impl<S: Send + Sync> FromRequestParts<S> for ReadAfter {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Some(value) = parts.headers.get(POSITION) else {
            return Ok(Self(None));
        };
        value
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<u64>().ok())
            .map(|position| Self(Some(position)))
            .ok_or_else(|| {
                Problem::bad_request(format!(
                    "the {POSITION} header must be a position: a whole number, as a command's response gave it"
                ))
            })
    }
}

/// The response headers of a command that ran: `Eventsource-Position` (when
/// it appended events) and `ETag` (the aggregate's version); a response
/// part, or a response of its own with an empty body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The global position of the last event appended, if any was.
    pub position: Option<u64>,
    /// The aggregate's stream version after the command.
    pub version: u64,
}

impl<A: Aggregate> From<&Executed<A>> for Appended {
    fn from(executed: &Executed<A>) -> Self {
        Self {
            position: executed.appended.map(|a| a.last_position),
            version: executed.version,
        }
    }
}

impl IntoResponseParts for Appended {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Self::Error> {
        insert(parts.headers_mut(), self.position, self.version);
        Ok(parts)
    }
}

/// The headers alone, with an empty body: `(StatusCode::CREATED, appended)`.
impl IntoResponse for Appended {
    fn into_response(self) -> Response {
        let mut response = ().into_response();
        insert(response.headers_mut(), self.position, self.version);
        response
    }
}

fn insert(headers: &mut HeaderMap, position: Option<u64>, version: u64) {
    if let Some(position) = position {
        headers.insert(POSITION, HeaderValue::from(position));
    }
    headers.insert(header::ETAG, etag(version));
}
