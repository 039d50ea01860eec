//! The headers an event travels with on JetStream, and turning a message
//! back into the [`RecordedEvent`] it was published from.
//!
//! The payload of a message is the event's payload, as stored. Its headers:
//!
//! | header | value |
//! |---|---|
//! | `Nats-Msg-Id` | the event id: JetStream drops a second publish of it within the stream's duplicate window |
//! | [`POSITION`] `Es-Position` | the global position |
//! | [`EVENT`] `Es-Event` | the event name |
//! | [`SCHEMA_VERSION`] `Es-Schema-Version` | the payload's schema version |
//! | [`STREAM_ID`] `Es-Stream-Id` | the stream id |
//! | [`AGGREGATE_TYPE`] `Es-Aggregate-Type` | the aggregate type |
//! | [`STREAM_VERSION`] `Es-Stream-Version` | the version in the stream |
//! | [`RECORDED_AT`] `Es-Recorded-At` | when the store recorded it (RFC 3339) |
//! | [`CORRELATION_ID`] `Es-Correlation-Id` | the correlation id, if any |
//! | [`CAUSATION_ID`] `Es-Causation-Id` | the causation id, if any |
//! | [`METADATA`] `Es-Metadata` | the whole metadata as JSON (what rebuilds it) |
//! | `traceparent`, `tracestate` | the W3C trace context, when the metadata holds one |
//! | [`CORRUPT`] `Es-Corrupt` | only on a record the store could not read: why |
//!
//! Values that are free text (names, ids, JSON) are escaped with
//! [`escape_value`]: `%`, spaces, control characters and non-ASCII bytes as `%XX`,
//! since a header value cannot hold a line break and NATS tools show
//! ASCII best.

use std::sync::Arc;

use async_nats::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};
use eventsource::store::CorruptRecord;
use eventsource::{Metadata, RecordedEvent};
use thiserror::Error;
use uuid::Uuid;

/// The global position.
pub const POSITION: &str = "Es-Position";
/// The event name.
pub const EVENT: &str = "Es-Event";
/// The payload's schema version.
pub const SCHEMA_VERSION: &str = "Es-Schema-Version";
/// The stream id.
pub const STREAM_ID: &str = "Es-Stream-Id";
/// The aggregate type.
pub const AGGREGATE_TYPE: &str = "Es-Aggregate-Type";
/// The version in the stream.
pub const STREAM_VERSION: &str = "Es-Stream-Version";
/// When the store recorded the event.
pub const RECORDED_AT: &str = "Es-Recorded-At";
/// The correlation id.
pub const CORRELATION_ID: &str = "Es-Correlation-Id";
/// The causation id.
pub const CAUSATION_ID: &str = "Es-Causation-Id";
/// The metadata as JSON.
pub const METADATA: &str = "Es-Metadata";
/// On a record the store could not read as an event: the reason.
pub const CORRUPT: &str = "Es-Corrupt";
/// The event id, for JetStream's duplicate detection.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// The W3C trace context headers copied from the metadata.
pub const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

/// Why a message cannot be read back as an event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The message has no headers at all.
    #[error("the message has no headers")]
    NoHeaders,
    /// A header is missing.
    #[error("header `{0}` is missing")]
    Missing(&'static str),
    /// A header does not hold what it should.
    #[error("header `{name}` holds `{value}`: {problem}")]
    Invalid {
        /// The header.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The payload is not UTF-8 text.
    #[error("the payload is not UTF-8 text")]
    Payload,
}

/// Escapes free text for a header value: `%`, spaces, control characters
/// and non-ASCII bytes become `%XX`.
pub fn escape_value(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for byte in text.bytes() {
        // Spaces too: header values lose their leading and trailing ones.
        if byte == b'%' || !(0x21..0x7F).contains(&byte) {
            escaped.push_str(&format!("%{byte:02X}"));
        } else {
            escaped.push(char::from(byte));
        }
    }
    escaped
}

/// The text [`escape_value`] escaped as `value`; `None` when it is not
/// such an escape.
pub fn unescape_value(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut text = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            text.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            text.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(text).ok()
}

/// The headers of `event` (see the module docs).
pub fn for_event(event: &RecordedEvent) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(MSG_ID, event.event_id.to_string());
    headers.insert(POSITION, event.global_position.to_string());
    headers.insert(EVENT, escape_value(&event.event_name));
    headers.insert(SCHEMA_VERSION, event.schema_version.to_string());
    headers.insert(STREAM_ID, escape_value(&event.stream_id));
    headers.insert(AGGREGATE_TYPE, escape_value(&event.aggregate_type));
    headers.insert(STREAM_VERSION, event.stream_version.to_string());
    headers.insert(
        RECORDED_AT,
        event
            .recorded_at
            .to_rfc3339_opts(SecondsFormat::Nanos, true),
    );
    let metadata = &event.metadata;
    if let Some(id) = metadata.correlation_id {
        headers.insert(CORRELATION_ID, id.to_string());
    }
    if let Some(id) = metadata.causation_id {
        headers.insert(CAUSATION_ID, id.to_string());
    }
    for name in TRACE_HEADERS {
        if let Some(value) = metadata.headers.get(name) {
            headers.insert(name, escape_value(value));
        }
    }
    // Serializing a map of strings cannot fail; an empty text would read
    // back as empty metadata all the same.
    let json = serde_json::to_string(&**metadata).unwrap_or_default();
    headers.insert(METADATA, escape_value(&json));
    headers
}

/// The headers of a record the store could not read as an event: its
/// columns as stored, and the reason under [`CORRUPT`]. The far side
/// parks it, as the store's own subscribers do.
pub fn for_corrupt(record: &CorruptRecord) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let id = record.event_id.map_or_else(
        || format!("corrupt-{}", record.global_position),
        |id| id.to_string(),
    );
    headers.insert(MSG_ID, id);
    headers.insert(POSITION, record.global_position.to_string());
    headers.insert(CORRUPT, escape_value(&record.reason));
    headers.insert(EVENT, escape_value(&record.event_name));
    headers.insert(SCHEMA_VERSION, record.schema_version.to_string());
    headers.insert(STREAM_ID, escape_value(&record.stream_id));
    headers.insert(AGGREGATE_TYPE, escape_value(&record.aggregate_type));
    headers.insert(STREAM_VERSION, record.stream_version.to_string());
    if let Some(at) = record.recorded_at {
        headers.insert(RECORDED_AT, at.to_rfc3339_opts(SecondsFormat::Nanos, true));
    }
    headers.insert(METADATA, escape_value(&record.metadata));
    headers
}

/// What a message read back is.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded {
    /// The event it was published from.
    Event(RecordedEvent),
    /// A record that cannot be read as an event: one the store could not
    /// read, or a message whose headers are missing or wrong.
    Corrupt(Box<CorruptRecord>),
}

/// The global position a message carries, if it carries a readable one.
pub fn position(headers: Option<&HeaderMap>) -> Option<u64> {
    headers?.get(POSITION)?.as_str().parse().ok()
}

/// Reads a message back. A message that does not decode is
/// [`Decoded::Corrupt`], at the position it carries or, without one, at
/// `fallback_position` (where the consumer is in the log).
pub fn decode(headers: Option<&HeaderMap>, payload: &[u8], fallback_position: u64) -> Decoded {
    match read_event(headers, payload) {
        Ok(event) => Decoded::Event(event),
        Err(error) => Decoded::Corrupt(Box::new(corrupt(
            headers,
            payload,
            fallback_position,
            error.to_string(),
        ))),
    }
}

fn read_event(headers: Option<&HeaderMap>, payload: &[u8]) -> Result<RecordedEvent, HeaderError> {
    let headers = headers.ok_or(HeaderError::NoHeaders)?;
    if let Some(reason) = headers.get(CORRUPT) {
        return Err(HeaderError::Invalid {
            name: CORRUPT,
            value: reason.as_str().to_owned(),
            problem: "the store could not read this record as an event".to_owned(),
        });
    }
    let payload = std::str::from_utf8(payload).map_err(|_| HeaderError::Payload)?;
    let metadata_text = text(headers, METADATA)?;
    let metadata: Metadata =
        serde_json::from_str(&metadata_text).map_err(|e| HeaderError::Invalid {
            name: METADATA,
            value: metadata_text.clone(),
            problem: e.to_string(),
        })?;
    let recorded_at = raw(headers, RECORDED_AT)?;
    let recorded_at = DateTime::parse_from_rfc3339(recorded_at)
        .map_err(|e| invalid(RECORDED_AT, recorded_at, e))?
        .with_timezone(&Utc);
    Ok(RecordedEvent {
        event_name: Arc::from(text(headers, EVENT)?),
        payload: Arc::from(payload),
        stream_version: number(headers, STREAM_VERSION)?,
        global_position: number(headers, POSITION)?,
        schema_version: number(headers, SCHEMA_VERSION)?,
        recorded_at,
        stream_id: Arc::from(text(headers, STREAM_ID)?),
        aggregate_type: Arc::from(text(headers, AGGREGATE_TYPE)?),
        event_id: {
            let id = raw(headers, MSG_ID)?;
            Uuid::parse_str(id).map_err(|e| invalid(MSG_ID, id, e))?
        },
        metadata: Arc::new(metadata),
    })
}

fn raw<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, HeaderError> {
    headers
        .get(name)
        .map(|v| v.as_str())
        .ok_or(HeaderError::Missing(name))
}

fn text(headers: &HeaderMap, name: &'static str) -> Result<String, HeaderError> {
    let value = raw(headers, name)?;
    unescape_value(value).ok_or_else(|| HeaderError::Invalid {
        name,
        value: value.to_owned(),
        problem: "not an escaped text".to_owned(),
    })
}

fn number<T: std::str::FromStr>(headers: &HeaderMap, name: &'static str) -> Result<T, HeaderError>
where
    T::Err: std::fmt::Display,
{
    let value = raw(headers, name)?;
    value.parse().map_err(|e| invalid(name, value, e))
}

fn invalid(name: &'static str, value: &str, problem: impl std::fmt::Display) -> HeaderError {
    HeaderError::Invalid {
        name,
        value: value.to_owned(),
        problem: problem.to_string(),
    }
}

/// A corrupt record of what a message holds, as far as it can be read.
fn corrupt(
    headers: Option<&HeaderMap>,
    payload: &[u8],
    fallback_position: u64,
    reason: String,
) -> CorruptRecord {
    let get = |name: &'static str| -> String {
        headers
            .and_then(|h| h.get(name))
            .map(|v| {
                let value = v.as_str();
                unescape_value(value).unwrap_or_else(|| value.to_owned())
            })
            .unwrap_or_default()
    };
    let number = |name: &'static str| get(name).parse::<i64>().unwrap_or(0);
    let reason = match headers.and_then(|h| h.get(CORRUPT)) {
        Some(stored) => {
            unescape_value(stored.as_str()).unwrap_or_else(|| stored.as_str().to_owned())
        }
        None => format!("the JetStream message does not decode: {reason}"),
    };
    CorruptRecord {
        global_position: position(headers).unwrap_or(fallback_position),
        event_id: Uuid::parse_str(&get(MSG_ID)).ok(),
        stream_id: get(STREAM_ID),
        aggregate_type: get(AGGREGATE_TYPE),
        stream_version: number(STREAM_VERSION),
        event_name: get(EVENT),
        schema_version: number(SCHEMA_VERSION),
        payload: String::from_utf8_lossy(payload).into_owned(),
        metadata: get(METADATA),
        recorded_at: DateTime::parse_from_rfc3339(&get(RECORDED_AT))
            .ok()
            .map(|at| at.with_timezone(&Utc)),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> RecordedEvent {
        RecordedEvent {
            event_name: Arc::from("bank.Deposited"),
            payload: Arc::from(r#"{"amount":5}"#),
            stream_version: 3,
            global_position: 42,
            schema_version: 2,
            recorded_at: Utc::now(),
            stream_id: Arc::from("acc 1\r\nX-Injected: yes.ü%"),
            aggregate_type: Arc::from("bank.Account"),
            event_id: Uuid::now_v7(),
            metadata: Arc::new(
                Metadata::new()
                    .with_correlation_id(Uuid::now_v7())
                    .with_causation_id(Uuid::now_v7())
                    .with_actor("ané")
                    .with_header(
                        "traceparent",
                        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    ),
            ),
        }
    }

    #[test]
    fn an_event_round_trips() {
        let event = event();
        let headers = for_event(&event);
        assert_eq!(
            headers.get(MSG_ID).map(|v| v.as_str().to_owned()),
            Some(event.event_id.to_string())
        );
        assert!(headers.get("traceparent").is_some());
        assert_eq!(
            decode(Some(&headers), event.payload.as_bytes(), 0),
            Decoded::Event(event)
        );
    }

    #[test]
    fn broken_messages_are_corrupt_not_errors() {
        let event = event();
        let mut headers = for_event(&event);
        headers.insert(SCHEMA_VERSION, "many");
        let Decoded::Corrupt(record) = decode(Some(&headers), b"{}", 7) else {
            panic!("a bad schema version decoded");
        };
        assert_eq!(record.global_position, 42);
        assert_eq!(record.stream_id, &*event.stream_id);
        assert!(record.reason.contains(SCHEMA_VERSION), "{}", record.reason);
        let Decoded::Corrupt(record) = decode(None, b"\xff", 7) else {
            panic!("a message without headers decoded");
        };
        assert_eq!(record.global_position, 7);
    }

    #[test]
    fn values_escape_line_breaks() {
        let text = "a\r\nb%c ü";
        let escaped = escape_value(text);
        assert!(escaped.bytes().all(|b| (0x21..0x7F).contains(&b)));
        assert_eq!(unescape_value(&escaped).as_deref(), Some(text));
        assert_eq!(unescape_value("%G1"), None);
    }
}
