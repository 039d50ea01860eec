//! The event store wrapper that encrypts personal fields on append and
//! decrypts (or redacts) them on every read.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Map, Value};

use super::REDACTED;
use super::cipher::{new_key, open, seal, sealed_text};
use super::keys::KeyStore;
use super::personal::PersonalData;
use crate::event::{NewEvent, RecordedEvent};
use crate::registry::EventRegistration;
use crate::store::{
    AppendResult, ArchiveStatus, ArchivedStream, DeleteMode, Deletion, EventFilter, EventStore,
    EventStream, ExpectedVersion, IntoEventStore, StoreError, StoredEventType, StreamQuery,
    StreamSummary, Subscription, SubscriptionItem, Truncation,
};

/// An event store whose events' personal fields are encrypted per subject
/// (see the module docs). Cloning shares the stores.
#[derive(Clone)]
pub struct ShreddingStore {
    inner: Arc<dyn EventStore>,
    keys: Arc<dyn KeyStore>,
    /// The personal data of every event type, by stored name and alias.
    personal: Arc<HashMap<&'static str, &'static PersonalData>>,
}

impl std::fmt::Debug for ShreddingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShreddingStore")
            .field("personal_events", &self.personal.len())
            .finish_non_exhaustive()
    }
}

impl ShreddingStore {
    /// Wraps `inner`, keeping subjects' keys in `keys`.
    pub fn new(inner: impl IntoEventStore, keys: impl KeyStore) -> Self {
        Self::with_keys(inner, Arc::new(keys))
    }

    /// Wraps `inner` with a shared key store.
    pub fn with_keys(inner: impl IntoEventStore, keys: Arc<dyn KeyStore>) -> Self {
        let mut personal = HashMap::new();
        for registration in inventory::iter::<EventRegistration> {
            if let Some(data) = registration.personal {
                personal.insert(registration.name, data);
                for alias in registration.aliases {
                    personal.insert(*alias, data);
                }
            }
        }
        Self {
            inner: inner.into_event_store(),
            keys,
            personal: Arc::new(personal),
        }
    }

    /// Destroys the key of `subject`: its personal data can no longer be
    /// read, and it can have no new personal events. `true` if it had a key.
    pub async fn forget_subject(&self, subject: &str) -> Result<bool, StoreError> {
        self.keys.forget(subject).await
    }

    /// The store wrapped.
    pub fn inner(&self) -> &Arc<dyn EventStore> {
        &self.inner
    }

    async fn seal_event(&self, mut event: NewEvent) -> Result<NewEvent, StoreError> {
        let Some(data) = self.personal.get(&*event.event_name) else {
            return Ok(event);
        };
        let mut payload: Map<String, Value> =
            serde_json::from_str(&event.payload).map_err(|e| {
                StoreError::invalid(format!(
                    "event {} (`{}`) has personal fields but its payload is not a JSON object: {e}",
                    event.event_id, event.event_name
                ))
            })?;
        let subject = data.subject_of(&payload).ok_or_else(|| {
            StoreError::invalid(format!(
                "event {} (`{}`) names no subject: field `{}` must hold a string or a number",
                event.event_id, event.event_name, data.subject
            ))
        })?;
        let key = self.keys.key_for_append(&subject, new_key()).await?;
        for field in data.fields {
            if let Some(value) = payload.get_mut(field.name) {
                *value = seal(&key, &subject, &event.event_id, field.name, value)
                    .map_err(|e| StoreError::Backend(e.into()))?;
            }
        }
        event.payload = Value::Object(payload).to_string().into();
        Ok(event)
    }
}

/// `record` with its personal fields decrypted, or replaced and marked
/// redacted when the subject's key is gone.
async fn open_record(
    keys: &dyn KeyStore,
    personal: &HashMap<&'static str, &'static PersonalData>,
    mut record: RecordedEvent,
) -> Result<RecordedEvent, StoreError> {
    let Some(data) = personal.get(&*record.event_name) else {
        return Ok(record);
    };
    let Ok(mut payload) = serde_json::from_str::<Map<String, Value>>(&record.payload) else {
        // Not an object: the decoder reports it, as for any bad payload.
        return Ok(record);
    };
    let sealed: Vec<String> = payload
        .iter()
        .filter(|(_, v)| sealed_text(v).is_some())
        .map(|(k, _)| k.clone())
        .collect();
    if sealed.is_empty() {
        return Ok(record);
    }
    let key = match data.subject_of(&payload) {
        Some(subject) => keys.key(&subject).await?.map(|key| (subject, key)),
        None => None,
    };
    let mut redacted = false;
    for name in sealed {
        let Some(value) = payload.get_mut(&name) else {
            continue;
        };
        let opened = match (&key, sealed_text(value)) {
            (Some((subject, key)), Some(text)) => {
                open(key, subject, &record.event_id, &name, text).ok()
            }
            _ => None,
        };
        *value = opened.unwrap_or_else(|| {
            redacted = true;
            data.fields
                .iter()
                .find(|f| f.name == name)
                .map_or(Value::Null, |f| (f.replacement)())
        });
    }
    record.payload = Value::Object(payload).to_string().into();
    if redacted {
        let metadata = (*record.metadata).clone().with_header(REDACTED, "true");
        record.metadata = Arc::new(metadata);
    }
    Ok(record)
}

impl ShreddingStore {
    fn opened(&self, events: EventStream) -> EventStream {
        let keys = self.keys.clone();
        let personal = self.personal.clone();
        Box::pin(events.then(move |item| {
            let keys = keys.clone();
            let personal = personal.clone();
            async move { open_record(&*keys, &personal, item?).await }
        }))
    }

    fn opened_items(&self, items: Subscription) -> Subscription {
        let keys = self.keys.clone();
        let personal = self.personal.clone();
        Box::pin(items.then(move |item| {
            let keys = keys.clone();
            let personal = personal.clone();
            async move {
                match item? {
                    SubscriptionItem::Event(record) => Ok(SubscriptionItem::Event(
                        open_record(&*keys, &personal, record).await?,
                    )),
                    other => Ok(other),
                }
            }
        }))
    }
}

#[async_trait]
impl EventStore for ShreddingStore {
    async fn append(
        &self,
        stream_id: &str,
        aggregate_type: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let mut sealed = Vec::with_capacity(events.len());
        for event in events {
            sealed.push(self.seal_event(event).await?);
        }
        self.inner
            .append(stream_id, aggregate_type, expected, sealed)
            .await
    }

    fn read_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        self.opened(self.inner.read_stream(stream_id, from_version))
    }

    fn read_all(&self, from_position: u64, filter: EventFilter) -> EventStream {
        self.opened(self.inner.read_all(from_position, filter))
    }

    fn subscribe(&self, from_position: u64, filter: EventFilter) -> Subscription {
        self.opened_items(self.inner.subscribe(from_position, filter))
    }

    // A source keeping state per consumer (JetStream) sees the runner's
    // names and commits through the wrapper.
    fn subscribe_as(
        &self,
        consumer: &str,
        from_position: u64,
        filter: EventFilter,
    ) -> Subscription {
        self.opened_items(self.inner.subscribe_as(consumer, from_position, filter))
    }

    fn committed(&self, consumer: &str, position: u64) {
        self.inner.committed(consumer, position);
    }

    async fn stream_version(&self, stream_id: &str) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream_id).await
    }

    async fn head_position(&self) -> Result<u64, StoreError> {
        self.inner.head_position().await
    }

    async fn count_events(
        &self,
        from_position: u64,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        self.inner.count_events(from_position, filter).await
    }

    async fn streams(&self, query: &StreamQuery) -> Result<Vec<StreamSummary>, StoreError> {
        self.inner.streams(query).await
    }

    async fn event_types(&self) -> Result<Vec<StoredEventType>, StoreError> {
        self.inner.event_types().await
    }

    async fn delete_stream(
        &self,
        stream_id: &str,
        mode: DeleteMode,
    ) -> Result<Deletion, StoreError> {
        self.inner.delete_stream(stream_id, mode).await
    }

    async fn recreate_stream(&self, stream_id: &str) -> Result<u64, StoreError> {
        self.inner.recreate_stream(stream_id).await
    }

    async fn truncate_before(
        &self,
        stream_id: &str,
        before_version: u64,
    ) -> Result<Truncation, StoreError> {
        self.inner.truncate_before(stream_id, before_version).await
    }

    async fn archive_streams(
        &self,
        stream_ids: &[String],
    ) -> Result<Vec<ArchivedStream>, StoreError> {
        self.inner.archive_streams(stream_ids).await
    }

    fn read_archived_stream(&self, stream_id: &str, from_version: u64) -> EventStream {
        self.opened(self.inner.read_archived_stream(stream_id, from_version))
    }

    fn read_archive(&self, from_position: u64, to_position: u64) -> EventStream {
        self.opened(self.inner.read_archive(from_position, to_position))
    }

    async fn archive_status(&self) -> Result<ArchiveStatus, StoreError> {
        self.inner.archive_status().await
    }
}
