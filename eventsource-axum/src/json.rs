//! A JSON body whose every mistake is a 400 problem document.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// A JSON request body, like `axum::Json`, rejected with a problem
/// document: malformed JSON and a body that does not fit the type (a
/// missing or unknown field, with `#[serde(deny_unknown_fields)]`) are 400,
/// a body that is not `application/json` is 415, one too large is 413.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(problem(&rejection)),
        }
    }
}

fn problem(rejection: &JsonRejection) -> Problem {
    match rejection {
        JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_) => {
            Problem::typed(StatusCode::BAD_REQUEST, "invalid-body", "Invalid body")
                .with_detail(rejection.body_text())
        }
        JsonRejection::MissingJsonContentType(_) => {
            Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
                .with_detail("the body must be JSON, sent as `Content-Type: application/json`")
        }
        other => Problem::new(other.status()).with_detail(other.body_text()),
    }
}
