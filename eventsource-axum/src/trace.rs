//! W3C Trace Context (`traceparent`, `tracestate`) as a request carries it.

use axum::http::HeaderMap;
use uuid::Uuid;

/// The `traceparent` header.
pub const TRACEPARENT: &str = "traceparent";
/// The `tracestate` header.
pub const TRACESTATE: &str = "tracestate";

/// A request's trace context, when its `traceparent` is valid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    /// The `traceparent` value, as received.
    pub traceparent: String,
    /// The `tracestate` values, joined with commas, when there are any.
    pub tracestate: Option<String>,
    /// The trace id (16 bytes).
    pub trace_id: [u8; 16],
}

impl TraceContext {
    /// The context of `headers`; `None` without a valid `traceparent`
    /// (the recommendation leaves an invalid one, and its `tracestate`,
    /// unused rather than failing the request).
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let mut values = headers.get_all(TRACEPARENT).iter();
        let value = values.next()?.to_str().ok()?.trim();
        if values.next().is_some() {
            return None;
        }
        let trace_id = parse_traceparent(value)?;
        let states: Vec<&str> = headers
            .get_all(TRACESTATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        Some(Self {
            traceparent: value.to_owned(),
            tracestate: (!states.is_empty()).then(|| states.join(",")),
            trace_id,
        })
    }

    /// The trace id as a UUID, which serves as correlation id when the
    /// request names none: the events of a command share the trace's id.
    pub fn trace_uuid(&self) -> Uuid {
        Uuid::from_bytes(self.trace_id)
    }
}

/// `version-traceid-parentid-flags`, all lowercase hex: the trace id when
/// valid. Version `ff` and all-zero ids are invalid; a later version may
/// append fields after a `-`.
fn parse_traceparent(value: &str) -> Option<[u8; 16]> {
    let bytes = value.as_bytes();
    if bytes.len() < 55 {
        return None;
    }
    let version = &value[..2];
    let well_formed = version != "ff"
        && bytes[2] == b'-'
        && bytes[35] == b'-'
        && bytes[52] == b'-'
        && [&value[..2], &value[3..35], &value[36..52], &value[53..55]]
            .iter()
            .all(|part| is_lower_hex(part));
    let length_ok = match version {
        "00" => bytes.len() == 55,
        _ => bytes.len() == 55 || bytes[55] == b'-',
    };
    if !well_formed || !length_ok {
        return None;
    }
    let trace_id = u128::from_str_radix(&value[3..35], 16).ok()?;
    let parent_id = u64::from_str_radix(&value[36..52], 16).ok()?;
    if trace_id == 0 || parent_id == 0 {
        return None;
    }
    Some(trace_id.to_be_bytes())
}

fn is_lower_hex(part: &str) -> bool {
    part.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(traceparent: &str, states: &[&str]) -> Option<TraceContext> {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, traceparent.parse().unwrap());
        for state in states {
            headers.append(TRACESTATE, state.parse().unwrap());
        }
        TraceContext::from_headers(&headers)
    }

    #[test]
    fn reads_a_valid_traceparent_and_joins_tracestate() {
        let found = context(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            &["congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7"],
        )
        .unwrap();
        assert_eq!(
            found.trace_uuid().to_string(),
            "4bf92f35-77b3-4da6-a3ce-929d0e0e4736"
        );
        assert_eq!(
            found.tracestate.as_deref(),
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
        );
        // A later version may carry more fields.
        assert!(
            context(
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                &[]
            )
            .is_some()
        );
    }

    #[test]
    fn ignores_invalid_traceparents() {
        for bad in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "not a traceparent at all, but fifty-five characters lon",
        ] {
            assert_eq!(context(bad, &["a=b"]), None, "{bad}");
        }
    }
}
