//! Archiving by policy, truncating by policy, and exporting the archive to
//! files: the batch jobs over the store's archive primitives
//! ([`store::archive`](crate::store::archive)).
//!
//! - [`ArchivePolicy`] says which streams to archive: an aggregate type,
//!   a last event older than a duration, and optionally "the aggregate says
//!   it is closed" ([`Closable`], evaluated by loading it).
//! - [`ArchiveJob`] applies a policy: it lists the matching streams and
//!   moves their older events into the archive a small batch of streams at
//!   a time, each batch one short transaction, reporting progress to a
//!   callback. It keeps no state: run after a crash, it finds the streams
//!   already moved (they have nothing left to move) and finishes the rest.
//! - [`TruncatePolicy`] and [`TruncateJob`] keep the last versions of each
//!   stream of a type behind its snapshot, and remove the rest.
//! - [`export`] writes archived ranges to compressed JSON-lines files with
//!   a manifest, and [`read_export`] reads them back.
//!
//! ```
//! use std::time::Duration;
//! use eventsource::archive::{ArchiveJob, ArchivePolicy};
//! use eventsource::memory::InMemoryStore;
//! use eventsource::store::{EventStore, ExpectedVersion};
//! use eventsource::{Metadata, NewEvent};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = InMemoryStore::new();
//! let events = (0..3)
//!     .map(|i| NewEvent::new("docs.Noted", 1, format!(r#"{{"n":{i}}}"#), Metadata::new()))
//!     .collect();
//! store.append("note-1", "docs.Note", ExpectedVersion::NoStream, events).await?;
//!
//! let policy = ArchivePolicy::new("docs.Note", Duration::ZERO);
//! let report = ArchiveJob::new(store.clone(), policy).run(|_| {}).await?;
//! assert_eq!(report.events_moved, 2); // the last event stays hot
//! assert_eq!(store.archive_status().await?.events, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

mod error;
mod export;
mod job;
mod policy;
mod truncate;

pub use error::ArchiveError;
pub use export::{
    EXPORT_FORMAT, ExportOptions, ExportProgress, ExportedEvent, Manifest, ManifestFile, export,
    read_export,
};
pub use job::{ArchiveJob, ArchivePhase, ArchiveProgress, ArchiveReport};
pub use policy::{ArchivePolicy, Closable, ClosedCheck};
pub use truncate::{TruncateJob, TruncatePolicy, TruncateProgress, TruncateReport};
