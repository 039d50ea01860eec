//! Paths used by the code the macros generate. Not public API.
//!
//! Re-exports only, one file per concept: the logic lives in the module
//! named for it, and what is here changes with the macros. The runtime pins
//! `eventsource-derive` to its own exact version, so generated code always
//! finds the paths it was generated against.

mod aggregate;
mod command;
mod deps;
mod event;
mod handler;
mod query;
mod registry;
mod shredding;
mod upcast;

pub use self::aggregate::*;
pub use self::command::*;
pub use self::deps::*;
pub use self::event::*;
pub use self::handler::*;
pub use self::query::*;
pub use self::registry::*;
pub use self::shredding::*;
pub use self::upcast::*;
