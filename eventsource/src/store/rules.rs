//! The rules every store applies to an append before writing anything.
//!
//! One function, called by every store, so that the same bad input gets the
//! same answer everywhere (the conformance suite checks it). The limits are
//! set by what PostgreSQL can index and store, and apply to the in-memory
//! store too, so that a program tested in memory does not meet them first
//! in production.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::invalid::{InvalidRequest, RequestField};
use crate::event::{Metadata, NewEvent};

/// The longest stream id, in bytes. PostgreSQL indexes stream ids, and an
/// index entry holds at most about 2,700 bytes.
pub const MAX_STREAM_ID_BYTES: usize = 1024;

/// The longest aggregate type, in bytes.
pub const MAX_AGGREGATE_TYPE_BYTES: usize = 256;

/// The longest event name, in bytes.
pub const MAX_EVENT_NAME_BYTES: usize = 256;

/// The most events one append may carry (positions number the events of
/// one PostgreSQL transaction with 16 bits).
pub const MAX_EVENTS_PER_APPEND: usize = 65_535;

/// The highest schema version (PostgreSQL stores it as an `integer`).
pub const MAX_SCHEMA_VERSION: u32 = i32::MAX as u32;

/// Checks an append request against the rules every store keeps: a stream
/// id, an aggregate type and event names that are not empty, not too long
/// and free of NUL characters; schema versions from 1; payloads that are
/// JSON; metadata free of NUL characters; event ids unique in the batch; at
/// most [`MAX_EVENTS_PER_APPEND`] events.
///
/// A store calls it first and returns its error as
/// [`StoreError::Invalid`](super::StoreError::Invalid), with nothing written.
pub fn check_append(
    stream_id: &str,
    aggregate_type: &str,
    events: &[NewEvent],
) -> Result<(), InvalidRequest> {
    check_stream_id(stream_id)?;
    check_name(
        RequestField::AggregateType,
        aggregate_type,
        MAX_AGGREGATE_TYPE_BYTES,
    )?;
    if events.len() > MAX_EVENTS_PER_APPEND {
        return Err(InvalidRequest::of(
            RequestField::Batch,
            format!(
                "holds {} events, more than the {MAX_EVENTS_PER_APPEND} one append can hold",
                events.len()
            ),
        ));
    }
    for (index, event) in events.iter().enumerate() {
        check_event(event).map_err(|e| e.at_event(index))?;
    }
    // Ids made by one process's clock (UUID v7) come in increasing order, and
    // then they are distinct without a set to prove it.
    if events.len() > 1 && !events.windows(2).all(|w| w[0].event_id < w[1].event_id) {
        let mut seen = HashSet::with_capacity(events.len());
        if let Some((index, twice)) = events
            .iter()
            .enumerate()
            .find(|(_, e)| !seen.insert(e.event_id))
        {
            return Err(InvalidRequest::of(
                RequestField::EventId,
                format!("{} appears twice in the batch", twice.event_id),
            )
            .at_event(index));
        }
    }
    Ok(())
}

/// Checks a stream id: not empty, at most [`MAX_STREAM_ID_BYTES`], no NUL.
pub fn check_stream_id(stream_id: &str) -> Result<(), InvalidRequest> {
    check_name(RequestField::StreamId, stream_id, MAX_STREAM_ID_BYTES)
}

fn check_event(event: &NewEvent) -> Result<(), InvalidRequest> {
    check_name(
        RequestField::EventName,
        &event.event_name,
        MAX_EVENT_NAME_BYTES,
    )?;
    if event.schema_version == 0 {
        return Err(InvalidRequest::of(
            RequestField::SchemaVersion,
            "is 0; schema versions start at 1",
        ));
    }
    if event.schema_version > MAX_SCHEMA_VERSION {
        return Err(InvalidRequest::of(
            RequestField::SchemaVersion,
            format!(
                "is {}, above the highest a store keeps ({MAX_SCHEMA_VERSION})",
                event.schema_version
            ),
        ));
    }
    check_payload(&event.payload)?;
    check_metadata(&event.metadata)
}

/// A name-like field: not empty, not longer than `max` bytes, no NUL.
fn check_name(field: RequestField, value: &str, max: usize) -> Result<(), InvalidRequest> {
    if value.is_empty() {
        return Err(InvalidRequest::of(field, "is empty"));
    }
    if value.len() > max {
        return Err(InvalidRequest::of(
            field,
            format!("is {} bytes long; the most is {max}", value.len()),
        ));
    }
    if value.contains('\0') {
        return Err(InvalidRequest::of(field, "contains a NUL character"));
    }
    Ok(())
}

/// The payload must be one JSON value with no NUL character in any string
/// or key (PostgreSQL's JSON types cannot hold one).
fn check_payload(payload: &str) -> Result<(), InvalidRequest> {
    if is_plain_json(payload) {
        return Ok(());
    }
    visit_payload(payload)
}

/// The most digits in a row a skipped payload may hold: a number with more
/// could lie beyond `f64`, which the full visit refuses.
const SKIPPED_MAX_DIGITS: usize = 300;

/// The most opening brackets a skipped payload may hold, below the full
/// visit's nesting limit (128), which skipping does not keep.
const SKIPPED_MAX_BRACKETS: usize = 100;

/// Whether `payload` is JSON the full visit would accept, found by skipping
/// over it, which costs a fraction of visiting every value (appends check
/// every payload). Skipping checks less than visiting: not what a `\u`
/// escape stands for (a NUL, half a surrogate pair), not whether a number
/// fits `f64`, not how deep values nest. So only payloads with none of
/// those (no `\u`, no exponent, no long run of digits, few brackets) are
/// skipped; every other payload, and one the skip refuses, takes the full
/// visit, which says what is wrong. Either way a payload gets the answer
/// the full visit gives it.
fn is_plain_json(payload: &str) -> bool {
    let bytes = payload.as_bytes();
    let escape = payload.contains("\\u");
    // Without early exits the compiler turns these scans into vector code:
    // they cost less than the skip they guard.
    let exponent = bytes
        .iter()
        .zip(bytes.iter().skip(1))
        .fold(false, |found, (a, b)| {
            found | (a.is_ascii_digit() & (b | 0x20 == b'e'))
        });
    let nested = bytes.len() >= SKIPPED_MAX_BRACKETS
        && bytes.iter().filter(|&&b| b == b'[' || b == b'{').count() >= SKIPPED_MAX_BRACKETS;
    let long_number = bytes.len() > SKIPPED_MAX_DIGITS
        && bytes
            .split(|b| !b.is_ascii_digit())
            .any(|run| run.len() > SKIPPED_MAX_DIGITS);
    if escape || exponent || nested || long_number {
        return false;
    }
    let mut parser = serde_json::Deserializer::from_str(payload);
    de::IgnoredAny::deserialize(&mut parser)
        .and_then(|_| parser.end())
        .is_ok()
}

/// Visits every value of `payload`, saying what is wrong with it.
fn visit_payload(payload: &str) -> Result<(), InvalidRequest> {
    let mut parser = serde_json::Deserializer::from_str(payload);
    let checked = parser.deserialize_any(NoNul).and_then(|()| parser.end());
    checked.map_err(|e| {
        if e.is_data() {
            InvalidRequest::of(
                RequestField::Payload,
                "contains a NUL character in a string",
            )
        } else {
            InvalidRequest::of(RequestField::Payload, format!("is not JSON: {e}"))
        }
    })
}

fn check_metadata(metadata: &Metadata) -> Result<(), InvalidRequest> {
    let nul = |what: fmt::Arguments<'_>| {
        Err(InvalidRequest::of(
            RequestField::Metadata,
            format!("has a NUL character in {what}"),
        ))
    };
    if metadata.actor.as_deref().is_some_and(|a| a.contains('\0')) {
        return nul(format_args!("its actor"));
    }
    for (name, value) in &metadata.headers {
        if name.is_empty() {
            return Err(InvalidRequest::of(
                RequestField::Metadata,
                "has a header with an empty name",
            ));
        }
        if name.contains('\0') {
            return nul(format_args!("a header name"));
        }
        if value.contains('\0') {
            return nul(format_args!("header `{name}`"));
        }
    }
    Ok(())
}

/// Walks a JSON value, failing (with a data error) on a NUL in a string.
struct NoNul;

impl NoNul {
    fn string<E: de::Error>(value: &str) -> Result<(), E> {
        if value.contains('\0') {
            Err(E::custom("NUL in a string"))
        } else {
            Ok(())
        }
    }
}

impl<'de> Visitor<'de> for NoNul {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<(), E> {
        Self::string(value)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoNulSeed)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            Self::string(&key)?;
            map.next_value_seed(NoNulSeed)?;
        }
        Ok(())
    }
}

struct NoNulSeed;

impl<'de> de::DeserializeSeed<'de> for NoNulSeed {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(NoNul)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, version: u32, payload: &str) -> NewEvent {
        NewEvent::new(name, version, payload, Metadata::new())
    }

    fn refusal(stream: &str, aggregate: &str, events: &[NewEvent]) -> String {
        check_append(stream, aggregate, events)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn skipping_a_payload_gives_the_answer_of_the_full_visit() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let digits = |n: usize| "7".repeat(n);
        let payloads = [
            r#"{"amount":200,"reference":"ref-1"}"#.to_owned(),
            r#" {"a":[1,2.5,-3,true,false,null,{"b":"c"}]} "#.to_owned(),
            r#"{"a":1e400}"#.to_owned(),
            r#"{"a":1E5}"#.to_owned(),
            r#"{"a":2.5e-3}"#.to_owned(),
            r#"{"e1e":"1e400"}"#.to_owned(),
            digits(299),
            digits(301),
            digits(400),
            format!("-{}", digits(400)),
            format!("0.{}1", "0".repeat(400)),
            deep(100),
            deep(127),
            deep(128),
            deep(200),
            r#""\ud800""#.to_owned(),
            r#""\ud83d\ude00""#.to_owned(),
            r#""a\u0000b""#.to_owned(),
            r#""a\\u0000b""#.to_owned(),
            r#"{"a\u0000":1}"#.to_owned(),
            "\"a\0b\"".to_owned(),
            "\"a\tb\"".to_owned(),
            "\"a\\tb\"".to_owned(),
            "01".to_owned(),
            "1.".to_owned(),
            "-".to_owned(),
            "".to_owned(),
            " ".to_owned(),
            "{} x".to_owned(),
            "{}{}".to_owned(),
            r#"{"a":1,}"#.to_owned(),
            r#"[1,]"#.to_owned(),
            r#"{"a" 1}"#.to_owned(),
            "nul".to_owned(),
            "tru".to_owned(),
            r#""\x""#.to_owned(),
            r#""unterminated"#.to_owned(),
        ];
        for payload in &payloads {
            assert_eq!(
                check_payload(payload).map_err(|e| e.to_string()),
                visit_payload(payload).map_err(|e| e.to_string()),
                "payload {payload:?}"
            );
        }
        assert!(is_plain_json(&payloads[0]));
        assert!(check_payload(&payloads[2]).is_err(), "beyond f64");
        assert!(
            check_payload(&deep(128)).is_err(),
            "beyond the nesting limit"
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        let ok = event("t.Happened", 1, r#"{"a":[1,"x",{"b":null}]}"#);
        assert!(check_append("s-1", "t.Thing", std::slice::from_ref(&ok)).is_ok());
        assert_eq!(refusal("", "t.Thing", &[]), "`stream_id` is empty");
        assert_eq!(
            refusal(&"x".repeat(1025), "t.Thing", &[]),
            "`stream_id` is 1025 bytes long; the most is 1024"
        );
        assert_eq!(
            refusal("s\0", "t.Thing", &[]),
            "`stream_id` contains a NUL character"
        );
        assert_eq!(refusal("s", "", &[]), "`aggregate_type` is empty");
        assert_eq!(
            refusal("s", "t", &[ok.clone(), event("", 1, "{}")]),
            "`event_name` of event 1 of the batch is empty"
        );
        assert_eq!(
            refusal("s", "t", &[event("t.E", 0, "{}")]),
            "`schema_version` of event 0 of the batch is 0; schema versions start at 1"
        );
        assert!(
            refusal("s", "t", &[event("t.E", 1, "{oops")])
                .starts_with("`payload` of event 0 of the batch is not JSON: ")
        );
        assert!(
            refusal("s", "t", &[event("t.E", 1, "{} {}")])
                .starts_with("`payload` of event 0 of the batch is not JSON: ")
        );
        assert_eq!(
            refusal("s", "t", &[event("t.E", 1, r#"{"a":"x\u0000"}"#)]),
            "`payload` of event 0 of the batch contains a NUL character in a string"
        );
        assert_eq!(
            refusal("s", "t", &[event("t.E", 1, r#"{"\u0000":1}"#)]),
            "`payload` of event 0 of the batch contains a NUL character in a string"
        );
        let mut header = ok.clone();
        header.metadata = Metadata::new().with_header("tenant", "a\0b");
        assert_eq!(
            refusal("s", "t", &[header]),
            "`metadata` of event 0 of the batch has a NUL character in header `tenant`"
        );
        assert_eq!(
            refusal("s", "t", &[ok.clone(), ok.clone()]),
            format!(
                "`event_id` of event 1 of the batch {} appears twice in the batch",
                ok.event_id
            )
        );
    }

    #[test]
    fn a_repeated_id_is_found_in_any_order() {
        let with_id = |n: u128| {
            let mut e = event("t.E", 1, "{}");
            e.event_id = uuid::Uuid::from_u128(n);
            e
        };
        let increasing: Vec<NewEvent> = (1..=5).map(with_id).collect();
        assert!(check_append("s", "t", &increasing).is_ok());
        let shuffled: Vec<NewEvent> = [3, 1, 5, 2, 4].into_iter().map(with_id).collect();
        assert!(check_append("s", "t", &shuffled).is_ok());
        for (ids, index) in [
            (vec![1, 2, 3, 3], 3),
            (vec![3, 1, 2, 3], 3),
            (vec![2, 1, 1], 2),
        ] {
            let batch: Vec<NewEvent> = ids.into_iter().map(with_id).collect();
            let refused = refusal("s", "t", &batch);
            assert!(
                refused.starts_with(&format!("`event_id` of event {index} of the batch")),
                "{refused}"
            );
        }
    }
}
