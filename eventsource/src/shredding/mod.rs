//! Crypto-shredding: personal data encrypted per subject, erased by
//! destroying the subject's key.
//!
//! An event declares its personal data in `#[derive(Event)]`: one field
//! names the subject (`#[event(subject)]`), and each personal field
//! (`#[event(personal)]`, or `#[event(personal, replacement = "...")]`)
//! says what a read gives in its place once the subject is forgotten (its
//! type's default, or the string given).
//!
//! [`ShreddingStore`] wraps any event store. On append it encrypts each
//! personal field with AES-256-GCM under the subject's key from a
//! [`KeyStore`] (created on the subject's first event), storing
//! `{"$encrypted": "..."}` in its place. On every read (a stream, the global
//! log, a subscription) it decrypts them again, so aggregates, upcasters
//! and projections see the plain event. [`ShreddingStore::forget_subject`]
//! destroys the key: from then on reads give the declared replacements and
//! mark the record redacted ([`is_redacted`]), a rebuilt projection holds no
//! personal data of the subject, and an append of a personal event for the
//! subject is refused
//! ([`StoreError::SubjectForgotten`](crate::StoreError::SubjectForgotten)).
//! Events of other subjects read as before.
//!
//! What was read before the key went keeps whatever it copied: rebuild the
//! projections that hold personal data, and delete the snapshots of the
//! subject's aggregates (`SnapshotStore::delete`), which hold decrypted
//! state. Only the fields marked personal are encrypted; the subject field
//! itself, the stream id and the metadata are stored as given, so they
//! should not carry personal data.
//!
//! ```
//! use eventsource::memory::InMemoryStore;
//! use eventsource::prelude::*;
//! use eventsource::shredding::{InMemoryKeyStore, ShreddingStore, is_redacted};
//! use futures::TryStreamExt;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Serialize, Deserialize, Debug)]
//! #[event(name = "docs.Registered")]
//! struct Registered {
//!     #[event(subject)]
//!     customer: String,
//!     #[event(personal, replacement = "(forgotten)")]
//!     email: String,
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = ShreddingStore::new(InMemoryStore::new(), InMemoryKeyStore::new());
//! let event = Registered { customer: "c-1".into(), email: "zoe@example.com".into() };
//! let event = NewEvent::from_event(&event, Metadata::new()).unwrap();
//! store.append("c-1", "docs.Customer", ExpectedVersion::NoStream, vec![event]).await?;
//!
//! store.forget_subject("c-1").await?;
//! let read: Vec<_> = store.read_stream("c-1", 1).try_collect().await?;
//! assert!(is_redacted(&read[0]));
//! assert!(read[0].payload.contains("(forgotten)"));
//! # Ok::<(), eventsource::StoreError>(())
//! # }).unwrap();
//! ```

mod cipher;
mod keys;
mod personal;
mod store;

use crate::event::RecordedEvent;

pub use cipher::{ENCRYPTED, SubjectKey, new_key};
pub use keys::{InMemoryKeyStore, KeyStore};
pub use personal::{PersonalData, PersonalField};
pub use store::ShreddingStore;

/// The metadata header a read sets on a record whose personal data could
/// not be decrypted because its subject was forgotten.
pub const REDACTED: &str = "eventsource.redacted";

/// Whether `record` was read with its personal data replaced.
pub fn is_redacted(record: &RecordedEvent) -> bool {
    record.metadata.headers.get(REDACTED).map(String::as_str) == Some("true")
}
