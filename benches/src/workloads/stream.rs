//! The stored stream the load workloads read: one account with many events,
//! appended through the real in-memory store.

use std::sync::Arc;

use eventsource::memory::InMemoryStore;
use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::uuid::Uuid;
use eventsource::{AggregateConfig, RecordedEvent};
use futures::TryStreamExt;
use tokio::runtime::Runtime;

use crate::domain::Account;
use crate::domain::mix::{self, Schema, StoredEvent};

/// The id of the account whose stream is loaded.
pub(crate) const ACCOUNT: &str = "acc-1";

/// Events appended per command-sized batch when building the stream.
const BATCH: usize = 10;

/// A stored event as the baseline reads it: the same strings the store holds.
#[derive(Clone, Debug)]
pub(crate) struct Row {
    /// The stored name.
    pub(crate) name: Arc<str>,
    /// The schema version.
    pub(crate) version: u32,
    /// The JSON text.
    pub(crate) payload: Arc<str>,
}

/// A store holding one account's stream, and the same events as plain rows.
pub(crate) struct StoredStream {
    /// The store.
    pub(crate) store: InMemoryStore,
    /// The events as written.
    pub(crate) events: Vec<StoredEvent>,
    /// The events as read back from the store.
    pub(crate) rows: Vec<Row>,
}

/// Appends `count` events of the mix to a fresh store, in batches of ten as
/// a command would, and reads them back.
pub(crate) fn build(rt: &Runtime, count: usize, schema: Schema) -> StoredStream {
    let store = InMemoryStore::new();
    let events = mix::events(count, schema);
    let stream_id = Account::stream_id(ACCOUNT);
    rt.block_on(async {
        let mut version = None;
        for batch in events.chunks(BATCH) {
            let command_id = Uuid::now_v7();
            let new = batch.iter().map(|e| e.to_new_event(command_id)).collect();
            let done = store
                .append(
                    &stream_id,
                    Account::NAME,
                    ExpectedVersion::from_current(version),
                    new,
                )
                .await
                .expect("append to a fresh in-memory store");
            version = Some(done.last_version);
        }
    });
    let recorded: Vec<RecordedEvent> = rt
        .block_on(store.read_stream(&stream_id, 1).try_collect())
        .expect("read the stream back");
    let rows = recorded
        .into_iter()
        .map(|r| Row {
            name: r.event_name,
            version: r.schema_version,
            payload: r.payload,
        })
        .collect();
    StoredStream {
        store,
        events,
        rows,
    }
}
