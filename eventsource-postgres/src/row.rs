//! Turning an `events` row into a [`RecordedEvent`].

use std::sync::Arc;

use chrono::{DateTime, Utc};
use eventsource::store::CorruptRecord;
use eventsource::{Metadata, RecordedEvent, StoreError};
use sqlx::postgres::{PgRow, PgValueFormat};
use sqlx::{ColumnIndex, Row, ValueRef as _};
use uuid::Uuid;

use crate::error::store_error;

/// Reuses the `Arc<str>` of recently seen names, so a read of many events of
/// few streams, types and names allocates each string once, not per row;
/// and the metadata of the row before, which the events of one append share.
#[derive(Debug, Default)]
pub(crate) struct Names {
    streams: Recent,
    types: Recent,
    events: Recent,
    metadata: LastMetadata,
}

impl Names {
    /// The shared text of an event name.
    pub(crate) fn event_name(&mut self, name: &str) -> &Arc<str> {
        self.events.get(name)
    }

    /// The metadata stored as `text`: the previous row's, shared, when its
    /// text was the same (the events of one command follow one another in
    /// the log with equal metadata), otherwise parsed.
    fn metadata(&mut self, text: &str) -> Result<Arc<Metadata>, serde_json::Error> {
        let last = &mut self.metadata;
        if last.text != text {
            let parsed = Arc::new(metadata(text)?);
            last.text.clear();
            last.text.push_str(text);
            last.value = parsed;
        }
        Ok(last.value.clone())
    }
}

/// The last metadata parsed, with its text.
#[derive(Debug)]
struct LastMetadata {
    text: String,
    value: Arc<Metadata>,
}

impl Default for LastMetadata {
    fn default() -> Self {
        Self {
            text: "{}".to_owned(),
            value: Arc::default(),
        }
    }
}

/// A handful of recent values, searched linearly (cheaper than hashing here).
#[derive(Debug, Default)]
struct Recent {
    values: Vec<Arc<str>>,
    /// Where the last lookup hit: consecutive rows usually repeat it.
    last: usize,
    next: usize,
}

impl Recent {
    const SIZE: usize = 16;

    fn get(&mut self, value: &str) -> &Arc<str> {
        let at = if self.values.get(self.last).is_some_and(|v| &**v == value) {
            self.last
        } else if let Some(at) = self.values.iter().position(|v| &**v == value) {
            at
        } else if self.values.len() < Self::SIZE {
            self.values.push(value.into());
            self.values.len() - 1
        } else {
            let at = self.next;
            self.values[at] = value.into();
            self.next = (at + 1) % Self::SIZE;
            at
        };
        self.last = at;
        &self.values[at]
    }
}

/// Why a row is not an event.
#[derive(Debug)]
pub(crate) enum Unreadable {
    /// The row was read, but its columns do not make an event.
    Corrupt(Box<CorruptRecord>),
    /// The row could not be read (the connection failed mid-row, say).
    Failed(StoreError),
}

impl Unreadable {
    /// The error of a read that hands over events only.
    pub(crate) fn into_store_error(self) -> StoreError {
        match self {
            Self::Corrupt(record) => StoreError::Corrupt {
                global_position: record.global_position,
                reason: record.reason,
            },
            Self::Failed(error) => error,
        }
    }
}

/// Decodes a row selected with the store's event columns.
///
/// A row whose columns do not decode (a negative version, metadata of the
/// wrong shape) is [`Unreadable::Corrupt`], carrying every column as it was
/// read; the payload is left as text for the runtime, which reports a
/// mismatch as a typed decode error.
///
/// Every statement that feeds this selects the same ten columns with fixed
/// types (`payload::text`, `metadata::text`), so each value is decoded by
/// position without sqlx's per-cell type check; a value that does not
/// decode is still an error.
pub(crate) fn decode(row: &PgRow, names: &mut Names) -> Result<RecordedEvent, Unreadable> {
    let raw_position: i64 = row
        .try_get_unchecked(0)
        .map_err(|e| Unreadable::Failed(store_error(e)))?;
    let corrupt = |reason: String| Unreadable::Corrupt(Box::new(raw(row, reason)));
    let column = |e: sqlx::Error| corrupt(format!("unreadable column: {e}"));
    let global_position = u64::try_from(raw_position)
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| corrupt(format!("global position {raw_position} is not positive")))?;
    let stream_id = names
        .streams
        .get(row.try_get_unchecked::<&str, _>(1).map_err(column)?)
        .clone();
    let aggregate_type = names
        .types
        .get(row.try_get_unchecked::<&str, _>(2).map_err(column)?)
        .clone();
    let version: i64 = row.try_get_unchecked(3).map_err(column)?;
    let stream_version = u64::try_from(version)
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| corrupt(format!("stream `{stream_id}` has version {version}")))?;
    let event_id: Uuid = row.try_get_unchecked(4).map_err(column)?;
    let event_name = names
        .events
        .get(row.try_get_unchecked::<&str, _>(5).map_err(column)?)
        .clone();
    let schema: i32 = row.try_get_unchecked(6).map_err(column)?;
    let schema_version = u32::try_from(schema).map_err(|_| {
        corrupt(format!(
            "event {event_id} (`{event_name}`, stream `{stream_id}` version {stream_version}) \
             has schema version {schema}"
        ))
    })?;
    let payload: Arc<str> = row.try_get_unchecked::<&str, _>(7).map_err(column)?.into();
    let text = row.try_get_unchecked::<&str, _>(8).map_err(column)?;
    let metadata = names.metadata(text).map_err(|e| {
        corrupt(format!(
            "metadata of event {event_id} (`{event_name}`, stream `{stream_id}` \
             version {stream_version}) does not decode: {e}"
        ))
    })?;
    let recorded_at = timestamp(row, 9).map_err(|reason| {
        corrupt(format!(
            "event {event_id} (`{event_name}`, stream `{stream_id}` version \
             {stream_version}) has a recording time {reason}"
        ))
    })?;
    Ok(RecordedEvent {
        event_id,
        stream_id,
        aggregate_type,
        stream_version,
        global_position,
        event_name,
        schema_version,
        payload,
        metadata,
        recorded_at,
    })
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01).
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A `timestamptz` column, read from its binary form (microseconds since
/// PostgreSQL's epoch): a fraction of the date arithmetic sqlx's decoding
/// does, and a value beyond `DateTime`'s range (`infinity`, written by hand)
/// is an error rather than the panic of sqlx's addition. The error says
/// what is wrong with the value, to follow the column's name.
pub(crate) fn timestamp<I>(row: &PgRow, index: I) -> Result<DateTime<Utc>, String>
where
    I: ColumnIndex<PgRow> + Copy,
{
    let value = row
        .try_get_raw(index)
        .map_err(|e| format!("that cannot be read: {e}"))?;
    if value.is_null() {
        return Err("that is null".to_owned());
    }
    if value.format() != PgValueFormat::Binary {
        return row
            .try_get_unchecked(index)
            .map_err(|e| format!("that does not decode: {e}"));
    }
    let bytes = value
        .as_bytes()
        .map_err(|e| format!("that cannot be read: {e}"))?;
    let micros = <[u8; 8]>::try_from(bytes)
        .map(i64::from_be_bytes)
        .map_err(|_| format!("of {} bytes rather than 8", bytes.len()))?;
    micros
        .checked_add(POSTGRES_EPOCH_MICROS)
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(|| format!("beyond the dates it can hold ({micros} µs from 2000)"))
}

/// [`timestamp`] as the store's error, naming the column as `what`.
pub(crate) fn timestamp_of<I>(
    row: &PgRow,
    index: I,
    what: &str,
) -> Result<DateTime<Utc>, StoreError>
where
    I: ColumnIndex<PgRow> + Copy,
{
    timestamp(row, index).map_err(|reason| StoreError::Backend(format!("{what} {reason}").into()))
}

/// [`timestamp_of`] for a column that may be null.
pub(crate) fn optional_timestamp_of<I>(
    row: &PgRow,
    index: I,
    what: &str,
) -> Result<Option<DateTime<Utc>>, StoreError>
where
    I: ColumnIndex<PgRow> + Copy,
{
    let null = row.try_get_raw(index).map_err(store_error)?.is_null();
    if null {
        return Ok(None);
    }
    timestamp_of(row, index, what).map(Some)
}

/// Every column of `row` as far as it can be read, for a corrupt record.
fn raw(row: &PgRow, reason: String) -> CorruptRecord {
    let text = |i: usize| row.try_get::<&str, _>(i).unwrap_or_default().to_owned();
    CorruptRecord {
        global_position: row
            .try_get::<i64, _>(0)
            .ok()
            .and_then(|p| u64::try_from(p).ok())
            .unwrap_or(0),
        event_id: row.try_get(4).ok(),
        stream_id: text(1),
        aggregate_type: text(2),
        stream_version: row.try_get(3).unwrap_or_default(),
        event_name: text(5),
        schema_version: row.try_get::<i32, _>(6).map(i64::from).unwrap_or_default(),
        payload: text(7),
        metadata: text(8),
        recorded_at: timestamp(row, 9).ok(),
        reason,
    }
}

fn metadata(text: &str) -> Result<Metadata, serde_json::Error> {
    // Most events carry no metadata; skip the parser for them.
    if text == "{}" {
        return Ok(Metadata::default());
    }
    serde_json::from_str(text)
}

/// Metadata as JSON text for the append's `$9` array.
pub(crate) fn metadata_json(metadata: &Metadata) -> Result<String, StoreError> {
    if *metadata == Metadata::default() {
        return Ok("{}".to_owned());
    }
    serde_json::to_string(metadata)
        .map_err(|e| StoreError::invalid(format!("metadata does not serialize: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_rows_with_equal_metadata_share_it() {
        let mut names = Names::default();
        let text = metadata_json(&Metadata::new().with_correlation_id(Uuid::from_u128(7)))
            .expect("metadata serializes");
        let first = names.metadata(&text).expect("parses");
        let second = names.metadata(&text).expect("parses");
        assert!(Arc::ptr_eq(&first, &second));
        assert_eq!(first.correlation_id, Some(Uuid::from_u128(7)));
        assert!(names.metadata(r#"{"correlation_id": 42}"#).is_err());
        let after_error = names.metadata(&text).expect("parses");
        assert!(
            Arc::ptr_eq(&first, &after_error),
            "an error leaves the last one"
        );
        let empty = names.metadata("{}").expect("parses");
        assert_eq!(*empty, Metadata::default());
        let other = names.metadata(r#"{"actor":"ada"}"#).expect("parses");
        assert_eq!(other.actor.as_deref(), Some("ada"));
        assert!(!Arc::ptr_eq(
            &first,
            &names.metadata(&text).expect("parses")
        ));
    }

    #[test]
    fn recent_names_are_shared() {
        let mut recent = Recent::default();
        let a = recent.get("a").clone();
        assert!(Arc::ptr_eq(&a, recent.get("a")));
        for i in 0..40 {
            recent.get(&i.to_string());
        }
        assert_eq!(recent.values.len(), Recent::SIZE);
        assert_eq!(&**recent.get("a"), "a");
    }

    #[test]
    fn empty_metadata_round_trips_without_the_parser() {
        assert_eq!(metadata_json(&Metadata::default()).unwrap(), "{}");
        assert_eq!(metadata("{}").unwrap(), Metadata::default());
        let full = Metadata::new().with_actor("me").with_header("k", "v");
        assert_eq!(metadata(&metadata_json(&full).unwrap()).unwrap(), full);
        assert!(metadata(r#"{"correlation_id": 42}"#).is_err());
    }
}
