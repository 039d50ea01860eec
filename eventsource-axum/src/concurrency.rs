//! Optimistic concurrency over HTTP: a stream version is an entity tag,
//! and `If-Match` states the version a command expects.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use eventsource::ExpectedVersion;

use crate::problem::Problem;

/// The strong entity tag of stream version `version`: `"7"`.
pub fn etag(version: u64) -> HeaderValue {
    // Digits and quotes only: always a valid header value.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

/// The version a command expects, from `If-Match`: `"7"` (an entity tag
/// this crate gave out) is `Exact(7)`, `*` or no header is `Any`. A weak
/// tag, a list of tags or one that names no version is a 400: none can
/// state one version. A stale tag is the command's 409.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfMatch(pub ExpectedVersion);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let mut values = parts.headers.get_all(header::IF_MATCH).iter();
        let Some(value) = values.next() else {
            return Ok(Self(ExpectedVersion::Any));
        };
        let text = value.to_str().unwrap_or_default().trim();
        if values.next().is_some() || text.contains(',') {
            return Err(Problem::bad_request(
                "If-Match takes one entity tag: the version the command expects",
            ));
        }
        if text == "*" {
            return Ok(Self(ExpectedVersion::Any));
        }
        if text.starts_with("W/") {
            return Err(Problem::bad_request(
                "If-Match takes a strong entity tag, as the ETag header gave it, not a weak one",
            ));
        }
        text.strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<u64>().ok())
            .map(|version| Self(ExpectedVersion::Exact(version)))
            .ok_or_else(|| {
                Problem::bad_request(
                    "If-Match takes an entity tag this service gave out in an ETag header, such as \"3\"",
                )
            })
    }
}
