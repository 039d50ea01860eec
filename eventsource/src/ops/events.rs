//! Events as operators read them: a stream's, decoded through upcasters
//! and aliases or as stored, and the tail of the log.

use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Operations, OpsError};
use crate::event::RecordedEvent;
use crate::store::{EventFilter, StreamQuery, StreamSummary, SubscriptionItem};

/// One event as shown to an operator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventView {
    /// Its global position.
    pub global_position: u64,
    /// Its stream.
    pub stream_id: String,
    /// The stream's aggregate type.
    pub aggregate_type: String,
    /// Its version in the stream.
    pub stream_version: u64,
    /// Its id (absent for a record that could not be read as an event).
    pub event_id: Option<Uuid>,
    /// When it was recorded.
    pub recorded_at: Option<DateTime<Utc>>,
    /// The name: the current one when decoded, the stored one when raw or
    /// undecodable.
    pub event_name: String,
    /// The schema version: the current one when decoded, else as stored.
    pub schema_version: u32,
    /// The name as stored.
    pub stored_name: String,
    /// The schema version as stored.
    pub stored_version: u32,
    /// The payload: upcast to the current version when decoded, else as
    /// stored (a string when it is not JSON).
    pub payload: Value,
    /// The metadata (a string when it is not JSON).
    pub metadata: Value,
    /// Why it could not be decoded, when it could not.
    pub decode_error: Option<String>,
}

/// Where [`Operations::tail`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TailFrom {
    /// At this global position (inclusive).
    Position(u64),
    /// At the first event recorded at or after this time.
    Time(DateTime<Utc>),
    /// After the last `n` events that pass the filter.
    Last(u64),
}

fn json_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

impl Operations {
    /// `record` as shown: decoded through aliases and upcasters to the
    /// current name and version, unless `raw` (then as stored).
    pub fn view(&self, record: &RecordedEvent, raw: bool) -> EventView {
        let mut view = EventView {
            global_position: record.global_position,
            stream_id: record.stream_id.to_string(),
            aggregate_type: record.aggregate_type.to_string(),
            stream_version: record.stream_version,
            event_id: Some(record.event_id),
            recorded_at: Some(record.recorded_at),
            event_name: record.event_name.to_string(),
            schema_version: record.schema_version,
            stored_name: record.event_name.to_string(),
            stored_version: record.schema_version,
            payload: json_or_text(&record.payload),
            metadata: serde_json::to_value(&*record.metadata).unwrap_or(Value::Null),
            decode_error: None,
        };
        if raw {
            return view;
        }
        let decoded = self
            .registry
            .decodable(&record.event_name, record.schema_version)
            .map_err(|e| e.to_string())
            .and_then(|event| {
                let payload: Value =
                    serde_json::from_str(&record.payload).map_err(|e| e.to_string())?;
                let payload = self
                    .registry
                    .upcast(event.name, record.schema_version, event.version, payload)
                    .map_err(|e| e.to_string())?;
                Ok((event.name, event.version, payload))
            });
        match decoded {
            Ok((name, version, payload)) => {
                view.event_name = name.to_owned();
                view.schema_version = version;
                view.payload = payload;
            }
            Err(error) => view.decode_error = Some(error),
        }
        view
    }

    /// The streams `query` selects, with their version and last change.
    pub async fn streams(&self, query: &StreamQuery) -> Result<Vec<StreamSummary>, OpsError> {
        Ok(self.store.streams(query).await?)
    }

    /// The position just before the first event recorded at or after
    /// `time` (the head when there is none): a checkpoint there makes a
    /// projection handle again everything from `time` on.
    pub async fn position_before(&self, time: DateTime<Utc>) -> Result<u64, OpsError> {
        let mut events = self
            .store
            .read_all(1, EventFilter::all().with_recorded_since(time));
        match events.try_next().await? {
            Some(first) => Ok(first.global_position.saturating_sub(1)),
            None => Ok(self.store.head_position().await?),
        }
    }

    /// The events of `stream_id`: up to version `as_of_version` and
    /// recorded up to `as_of_time` when given, decoded unless `raw`.
    pub async fn stream(
        &self,
        stream_id: &str,
        raw: bool,
        as_of_version: Option<u64>,
        as_of_time: Option<DateTime<Utc>>,
    ) -> Result<Vec<EventView>, OpsError> {
        if self.store.stream_version(stream_id).await?.is_none() {
            return Err(OpsError::NotFound(format!("stream `{stream_id}`")));
        }
        let mut events = self.store.read_stream(stream_id, 1);
        let mut views = Vec::new();
        while let Some(event) = events.try_next().await? {
            if as_of_version.is_some_and(|v| event.stream_version > v)
                || as_of_time.is_some_and(|t| event.recorded_at > t)
            {
                break;
            }
            views.push(self.view(&event, raw));
        }
        Ok(views)
    }

    /// The events of the log that pass `filter` from `from`, decoded
    /// unless `raw`; with `follow`, then new ones as they commit (the
    /// stream does not end). Records that cannot be read as events are
    /// shown with the reason.
    pub async fn tail(
        &self,
        from: TailFrom,
        filter: EventFilter,
        raw: bool,
        follow: bool,
    ) -> Result<BoxStream<'static, Result<EventView, OpsError>>, OpsError> {
        let (position, filter) = match from {
            TailFrom::Position(position) => (position, filter),
            TailFrom::Time(time) => (1, filter.with_recorded_since(time)),
            TailFrom::Last(n) => {
                let total = self.store.count_events(1, filter.clone()).await?;
                let skip = total.saturating_sub(n);
                let mut events = self.store.read_all(1, filter.clone());
                let mut start = self.store.head_position().await? + 1;
                let mut seen = 0;
                while let Some(event) = events.try_next().await? {
                    if seen == skip {
                        start = event.global_position;
                        break;
                    }
                    seen += 1;
                }
                (start, filter)
            }
        };
        let ops = self.clone();
        if follow {
            let items = self.store.subscribe(position, filter);
            Ok(items
                .filter_map(move |item| {
                    let shown = match item {
                        Ok(SubscriptionItem::Event(event)) => Some(Ok(ops.view(&event, raw))),
                        Ok(SubscriptionItem::Corrupt(record)) => Some(Ok(EventView {
                            global_position: record.global_position,
                            stream_id: record.stream_id.clone(),
                            aggregate_type: record.aggregate_type.clone(),
                            stream_version: u64::try_from(record.stream_version).unwrap_or(0),
                            event_id: record.event_id,
                            recorded_at: record.recorded_at,
                            event_name: record.event_name.clone(),
                            schema_version: u32::try_from(record.schema_version).unwrap_or(0),
                            stored_name: record.event_name.clone(),
                            stored_version: u32::try_from(record.schema_version).unwrap_or(0),
                            payload: json_or_text(&record.payload),
                            metadata: json_or_text(&record.metadata),
                            decode_error: Some(record.reason.clone()),
                        })),
                        Ok(_) => None,
                        Err(error) => Some(Err(OpsError::Store(error))),
                    };
                    futures::future::ready(shown)
                })
                .boxed())
        } else {
            Ok(self
                .store
                .read_all(position, filter)
                .map(move |event| event.map(|e| ops.view(&e, raw)).map_err(OpsError::Store))
                .boxed())
        }
    }
}
