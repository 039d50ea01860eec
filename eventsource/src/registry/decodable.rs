//! Whether this program can decode a stored event name at a schema version.

use serde::Serialize;
use thiserror::Error;

use super::Registry;
use super::entries::EventRegistration;

/// Why this program cannot decode events stored under a name and version.
#[derive(Clone, Debug, Error, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Undecodable {
    /// No event type of this program has the name or an alias of it.
    #[error("no event type of this program is named `{name}` or has it as an alias")]
    UnknownName {
        /// The stored name.
        name: String,
    },
    /// The stored version is below the current one, and a step of the
    /// upcaster chain between them is missing.
    #[error(
        "`{event}` v{stored} cannot be upcast: no upcaster from version {from} (the current version is {current})"
    )]
    MissingUpcaster {
        /// The event's current name.
        event: &'static str,
        /// The stored version.
        stored: u32,
        /// The first version with no step up.
        from: u32,
        /// The current version.
        current: u32,
    },
    /// The stored version is newer than this program knows: written by a
    /// newer release.
    #[error("`{event}` v{stored} is newer than this program's version {current}")]
    NewerVersion {
        /// The event's current name.
        event: &'static str,
        /// The stored version.
        stored: u32,
        /// The current version.
        current: u32,
    },
}

impl Registry {
    /// Checks that events stored as `name` (a current name or an alias) at
    /// schema `version` decode in this program: the name is known, and the
    /// version is the current one or upcasts to it step by step. Returns
    /// the event's registration.
    ///
    /// It looks at names and versions only; a payload that does not fit
    /// its type is found when it is read.
    ///
    /// ```
    /// use eventsource::registry::{Registry, Undecodable};
    ///
    /// let registry = Registry::global();
    /// assert!(matches!(
    ///     registry.decodable("nobody.Knows", 1),
    ///     Err(Undecodable::UnknownName { .. })
    /// ));
    /// ```
    pub fn decodable(&self, name: &str, version: u32) -> Result<&EventRegistration, Undecodable> {
        let event = self.event(name).ok_or_else(|| Undecodable::UnknownName {
            name: name.to_owned(),
        })?;
        if version > event.version {
            return Err(Undecodable::NewerVersion {
                event: event.name,
                stored: version,
                current: event.version,
            });
        }
        let chain = self.chain(event.name);
        if let Some(from) = (version..event.version).find(|v| chain.step(*v).is_none()) {
            return Err(Undecodable::MissingUpcaster {
                event: event.name,
                stored: version,
                from,
                current: event.version,
            });
        }
        Ok(event)
    }
}
