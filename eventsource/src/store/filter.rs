//! Which events a global read or subscription returns.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::event::RecordedEvent;
use crate::store::PartitionFilter;

/// Selects events from the global log. The default passes everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Only events with one of these names (aliases included by the caller).
    pub event_names: Option<Arc<[Arc<str>]>>,
    /// Only events of streams owned by one of these aggregate types.
    pub aggregate_types: Option<Arc<[Arc<str>]>>,
    /// Only events recorded at or after this time.
    pub recorded_since: Option<DateTime<Utc>>,
    /// Only events of the streams in this partition (see
    /// [`PartitionFilter`]).
    pub partition: Option<PartitionFilter>,
}

impl EventFilter {
    /// A filter that passes every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Restricts to events with one of `names`.
    pub fn with_event_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Arc<str>>,
    {
        self.event_names = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// Restricts to events of the given aggregate types.
    pub fn with_aggregate_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Arc<str>>,
    {
        self.aggregate_types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// Restricts to events recorded at or after `since`.
    pub fn with_recorded_since(mut self, since: DateTime<Utc>) -> Self {
        self.recorded_since = Some(since);
        self
    }

    /// Restricts to the events of the streams in `partition`.
    pub fn with_partition(mut self, partition: PartitionFilter) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Whether the filter passes everything.
    pub fn is_all(&self) -> bool {
        self.event_names.is_none()
            && self.aggregate_types.is_none()
            && self.recorded_since.is_none()
            && self.partition.is_none()
    }

    /// Whether `event` passes the filter.
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        let named = |set: &Option<Arc<[Arc<str>]>>, value: &str| {
            set.as_ref().is_none_or(|s| s.iter().any(|n| &**n == value))
        };
        named(&self.event_names, &event.event_name)
            && named(&self.aggregate_types, &event.aggregate_type)
            && self.recorded_since.is_none_or(|t| event.recorded_at >= t)
            && self.partition.is_none_or(|p| p.contains(&event.stream_id))
    }
}
