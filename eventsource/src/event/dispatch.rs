//! What the code generated for an event set (an aggregate's event enum, a
//! projection's or saga's handlers) needs of each of its events, checked
//! once per event. Reached through `__private`.

use std::fmt;

use super::{DecodeError, DecodeErrorKind, EncodedEvent, RecordedEvent, codec};

/// What an aggregate's event enum needs from one of its events.
///
/// Built once per event, in one constant spanned on the user's type, so a
/// type that is not an event is reported once, there, however many places
/// of the generated enum use it.
pub struct EventFns<T> {
    /// The event's stable name.
    pub name: &'static str,
    /// Whether a stored name (the name or an alias) is this event.
    pub is_named: fn(&str) -> bool,
    /// Decodes a record, upcasting older versions.
    pub decode: fn(&RecordedEvent) -> Result<T, DecodeError>,
    /// Encodes at the current version.
    pub encode: fn(&T) -> Result<EncodedEvent, serde_json::Error>,
    /// Formats the event.
    pub debug: fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
}

/// The event functions of `T`.
pub const fn event_fns<T: crate::Event>() -> EventFns<T> {
    EventFns {
        name: T::NAME,
        is_named: T::is_named,
        decode: codec::decode_event::<T>,
        encode: codec::encode_event::<T>,
        debug: <T as fmt::Debug>::fmt,
    }
}

/// Formats a value with a function chosen at compile time.
pub struct DebugWith<'a, T>(
    pub &'a T,
    pub fn(&T, &mut fmt::Formatter<'_>) -> fmt::Result,
);

impl<T> fmt::Debug for DebugWith<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.1)(self.0, f)
    }
}

/// The error for a record whose name no event of the reader matches.
pub fn unknown_event(record: &RecordedEvent, known: &'static [&'static str]) -> DecodeError {
    DecodeError::new(record, DecodeErrorKind::UnknownEvent { known })
}
