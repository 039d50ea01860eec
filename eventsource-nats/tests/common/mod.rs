//! Shared set-up for the JetStream tests: the NATS server at `NATS_URL`
//! (default `nats://127.0.0.1:4222`), PostgreSQL at `DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`) with a fresh schema
//! per test, and stream names unique to the run. Nothing is skipped: a
//! server that cannot be reached fails the test and says how to start one.

#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use eventsource::RecordedEvent;
use eventsource::store::{EventFilter, EventStore};
use eventsource_nats::headers::{self, Decoded};
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use futures::TryStreamExt;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn database_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => DEFAULT_DATABASE_URL.to_owned(),
    }
}

/// A connected client; panics with how to start a server when there is none.
pub async fn nats() -> async_nats::Client {
    let url = eventsource_nats::url_from_env();
    match eventsource_nats::connect(&url, Duration::from_secs(10)).await {
        Ok(client) => client,
        Err(error) => panic!("{error}"),
    }
}

/// A name no other run uses: `<prefix>_<seconds>_<random>`.
pub fn unique(prefix: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{prefix}_{secs}_{:08x}", fastrand::u32(..))
}

/// A migrated PostgreSQL store in a schema of its own.
pub async fn pg_store() -> PgEventStore {
    let url = database_url();
    let schema = unique("es_nats");
    let options = PgStoreOptions::new(&schema).expect("a valid schema name");
    let store = PgEventStore::connect_with(&url, options)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot connect to PostgreSQL at {url} ({e}): set DATABASE_URL, or run \
                 ./scripts/test, which starts a throwaway server"
            )
        });
    store.migrate().await.expect("migrations apply");
    store
}

pub async fn drop_schema(store: &PgEventStore) {
    let sql = format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", store.schema());
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("drop the test schema");
}

/// Deletes a stream this test created (a missing one is fine).
pub async fn delete_stream(client: &async_nats::Client, name: &str) {
    let _ = jetstream::new(client.clone()).delete_stream(name).await;
}

/// One stored message, read back.
#[derive(Debug, Clone)]
pub struct Stored {
    pub sequence: u64,
    pub subject: String,
    pub decoded: Decoded,
}

impl Stored {
    pub fn event(&self) -> &RecordedEvent {
        match &self.decoded {
            Decoded::Event(event) => event,
            Decoded::Corrupt(record) => panic!("message {} is corrupt: {record:?}", self.sequence),
        }
    }
}

/// Every message of `stream`, in stream order.
pub async fn read_stream(client: &async_nats::Client, name: &str) -> Vec<Stored> {
    let jetstream = jetstream::new(client.clone());
    let stream = jetstream.get_stream(name).await.expect("the stream exists");
    let info = stream.get_info().await.expect("stream info");
    let mut stored = Vec::new();
    for sequence in info.state.first_sequence.max(1)..=info.state.last_sequence {
        let message = match stream.get_raw_message(sequence).await {
            Ok(message) => message,
            Err(error) => panic!("cannot read message {sequence} of {name}: {error}"),
        };
        stored.push(Stored {
            sequence,
            subject: message.subject.to_string(),
            decoded: headers::decode(Some(&message.headers), &message.payload, 0),
        });
    }
    stored
}

/// Every event of the store, in global order.
pub async fn read_log(store: &impl EventStore) -> Vec<RecordedEvent> {
    store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .expect("read the log")
}
