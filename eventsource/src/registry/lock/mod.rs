//! The schema lock: a file the application commits (`events.lock.json`)
//! recording the JSON Schema of each version of each event, and the check
//! that stops a breaking change to a recorded version from shipping.
//!
//! A stored payload is written once and read for years; the version it
//! carries is the promise of its shape. Changing the shape of a version
//! already recorded — removing or renaming a field, changing its type,
//! adding a required field without a default — breaks that promise for
//! every payload already stored. The check says so and asks for a new
//! version and an upcaster instead. A compatible change (a new optional
//! field, a wider type, a new version) is recorded when the lock is updated.
//!
//! ```
//! use eventsource::registry::{Catalogue, Registry, SchemaLock};
//!
//! let catalogue = Catalogue::of(Registry::global());
//! let lock = SchemaLock::default().updated(&catalogue).expect("nothing recorded yet");
//! assert!(lock.check(&catalogue).is_up_to_date());
//! let text = lock.to_json();
//! assert_eq!(SchemaLock::parse(&text).expect("round trip"), lock);
//! ```

mod check;
mod diff;
mod file;
mod report;

pub use file::{LockError, LockedEvent, SchemaLock};
pub use report::{LockChange, LockReport};
