//! Command metadata from request headers: the correlation id, the W3C trace
//! context, and the actor from an extractor the application supplies.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use eventsource::Metadata;
use uuid::Uuid;

use crate::problem::Problem;
use crate::trace::{TRACEPARENT, TRACESTATE, TraceContext};

/// The request header naming the correlation id (a UUID).
pub const CORRELATION_ID: &str = "x-correlation-id";

/// Who sends a request, as the application knows it: implemented by the
/// application's own extractor (a session, a verified token), whose
/// rejection (a 401, say) is the response when it fails.
pub trait Actor {
    /// The actor recorded with the command's events, if any.
    fn actor(&self) -> Option<String>;
}

/// No actor: for services that record none.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoActor;

impl Actor for NoActor {
    fn actor(&self) -> Option<String> {
        None
    }
}

impl<S: Send + Sync> FromRequestParts<S> for NoActor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(_: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self)
    }
}

/// A command's [`Metadata`] read from the request:
///
/// - the correlation id from `X-Correlation-Id` (a malformed one is a 400),
///   else the trace id of a valid `traceparent`, so the events of a
///   request share its trace's id; else none (the command's id serves);
/// - `traceparent` and `tracestate`, when valid, as headers of the events;
/// - the actor from `A`, the application's extractor ([`Actor`]).
///
/// ```
/// use axum::extract::FromRequestParts;
/// use axum::http::request::Parts;
/// use eventsource_axum::{Actor, CommandMetadata, Problem};
///
/// /// The user a gateway authenticated, from its header.
/// struct User(String);
///
/// impl<S: Send + Sync> FromRequestParts<S> for User {
///     type Rejection = Problem;
///
///     async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
///         parts
///             .headers
///             .get("x-user")
///             .and_then(|v| v.to_str().ok())
///             .map(|user| User(user.to_owned()))
///             .ok_or_else(|| {
///                 Problem::new(axum::http::StatusCode::UNAUTHORIZED).with_detail("who are you?")
///             })
///     }
/// }
///
/// impl Actor for User {
///     fn actor(&self) -> Option<String> {
///         Some(self.0.clone())
///     }
/// }
///
/// async fn handler(CommandMetadata(metadata, _): CommandMetadata<User>) -> String {
///     metadata.actor.unwrap_or_default()
/// }
/// # let _: axum::Router = axum::Router::new().route("/", axum::routing::post(handler));
/// ```
#[derive(Clone, Debug)]
pub struct CommandMetadata<A = NoActor>(pub Metadata, pub A);

impl<S, A> FromRequestParts<S> for CommandMetadata<A>
where
    S: Send + Sync,
    A: Actor + FromRequestParts<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let actor = A::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let trace = TraceContext::from_headers(&parts.headers);
        let mut metadata = Metadata::new();
        metadata.correlation_id = correlation_id(parts)
            .map_err(IntoResponse::into_response)?
            .or_else(|| trace.as_ref().map(TraceContext::trace_uuid));
        if let Some(trace) = trace {
            metadata
                .headers
                .insert(TRACEPARENT.to_owned(), trace.traceparent);
            if let Some(state) = trace.tracestate {
                metadata.headers.insert(TRACESTATE.to_owned(), state);
            }
        }
        metadata.actor = actor.actor();
        Ok(Self(metadata, actor))
    }
}

/// `X-Correlation-Id`, when present; a malformed one is the client's mistake.
fn correlation_id(parts: &Parts) -> Result<Option<Uuid>, Problem> {
    let Some(value) = parts.headers.get(CORRELATION_ID) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| Uuid::parse_str(text.trim()).ok())
        .map(Some)
        .ok_or_else(|| Problem::bad_request(format!("the {CORRELATION_ID} header must be a UUID")))
}
