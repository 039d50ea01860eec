//! Paths used by the code the macros generate. Not public API.

pub use async_trait::async_trait;
pub use inventory;
pub use serde;
pub use serde_json;

use core::fmt;

pub use core::any::Any;

pub use core::convert::{From, Infallible, Into};
pub use core::option::Option;
pub use core::result::Result;
pub use std::boxed::Box;
pub use std::string::{String, ToString};
pub use std::sync::OnceLock;
pub use std::vec::Vec;

pub use crate::error::{DecodeError, DecodeErrorKind};
pub use crate::event::EncodedEvent;
pub use crate::event::RecordedEvent;
pub use crate::event::codec::{decode_event, encode_event, unknown_event};
pub use crate::event::{EventOf, IntoEvents};

/// Splits a command handler's `Result`-like return value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Result`",
    label = "a command handler's return type named `...Result` is taken to be a `Result`",
    note = "return a `std::result::Result` (or an alias of it), or rename `{Self}`"
)]
pub trait HandlerResult {
    /// The success value.
    type Ok;
    /// The domain error.
    type Err;
    /// The value as a `Result`.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E> HandlerResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline]
    fn into_result(self) -> Result<T, E> {
        self
    }
}

/// Serializes an aggregate's state for a snapshot.
#[inline]
pub fn encode_snapshot<T: serde::Serialize>(state: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(state)
}

/// Restores an aggregate's state from a snapshot.
#[inline]
pub fn decode_snapshot<T: serde::de::DeserializeOwned>(
    state: &str,
) -> Result<T, serde_json::Error> {
    serde_json::from_str(state)
}

/// An aggregate state that can be written to snapshots.
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes snapshots, so it must implement `Serialize`",
    label = "`snapshot_every` needs the aggregate's state to be serializable",
    note = "add `#[derive(Serialize, Deserialize)]` to `{Self}`, or remove `snapshot_every`"
)]
pub trait SnapshotEncode: serde::Serialize {}

impl<T: serde::Serialize> SnapshotEncode for T {}

/// An aggregate state that can be read from snapshots.
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes snapshots, so it must implement `Deserialize`",
    label = "`snapshot_every` needs the aggregate's state to be deserializable",
    note = "add `#[derive(Serialize, Deserialize)]` to `{Self}`, or remove `snapshot_every`"
)]
pub trait SnapshotDecode: serde::de::DeserializeOwned {}

impl<T: serde::de::DeserializeOwned> SnapshotDecode for T {}

/// How an aggregate's state is written to and read from snapshots.
///
/// Built once per aggregate, in one constant spanned on `snapshot_every`, so
/// a state without serde is reported once, there.
pub struct SnapshotFns<T> {
    /// Serializes the state.
    pub encode: fn(&T) -> Result<String, serde_json::Error>,
    /// Deserializes the state.
    pub decode: fn(&str) -> Result<T, serde_json::Error>,
}

/// The snapshot functions of `T`.
pub const fn snapshot_fns<T: SnapshotEncode + SnapshotDecode>() -> SnapshotFns<T> {
    SnapshotFns {
        encode: encode_snapshot::<T>,
        decode: decode_snapshot::<T>,
    }
}

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
        decode: decode_event::<T>,
        encode: encode_event::<T>,
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

/// The name of aggregate `A`, for registry entries.
///
/// Requires only `A: Aggregate`, which holds as soon as `#[aggregate_impl]`
/// implemented it, so a missing `#[derive(Aggregate)]` is reported once (on
/// that impl) rather than again at every entry.
pub const fn aggregate_name<A: crate::Aggregate>() -> &'static str {
    A::NAME
}

/// The snapshot interval of aggregate `A`, for registry entries.
pub const fn aggregate_snapshot_every<A: crate::Aggregate>() -> Option<u64> {
    A::SNAPSHOT_EVERY
}

/// The name of the aggregate that handles command `C`, for registry entries.
///
/// Requires only `C: Command`, so an `aggregate = T` naming a type that is not
/// an aggregate is reported once, on the `Command` impl.
pub const fn command_aggregate_name<C: crate::Command>() -> &'static str {
    <C::Aggregate as crate::AggregateConfig>::NAME
}

/// The stored names of the events in event set `E`, for registry entries.
pub const fn event_set_names<E: crate::EventSet>() -> &'static [&'static str] {
    E::NAMES
}

/// The type of an `#[aggregate_id]` field.
#[diagnostic::on_unimplemented(
    message = "the `#[aggregate_id]` field's type `{Self}` must implement `Display`",
    label = "`{Self}` does not implement `Display`",
    note = "the id is formatted into the aggregate's stream id; implement `Display` for `{Self}` or use a `String` or `Uuid` field"
)]
pub trait AggregateId: fmt::Display {}

impl<T: fmt::Display + ?Sized> AggregateId for T {}

/// The aggregate id held by an `#[aggregate_id]` field, as text.
#[inline]
pub fn aggregate_id<T: AggregateId + ?Sized>(id: &T) -> String {
    ToString::to_string(id)
}

/// A command that a handler takes by value: the runtime passes a reference,
/// so the generated code clones it.
#[diagnostic::on_unimplemented(
    message = "the command handler takes `{Self}` by value, so `{Self}` must implement `Clone`",
    label = "taken by value here",
    note = "take the command by reference (`cmd: &{Self}`), or add `#[derive(Clone)]` to `{Self}`"
)]
pub trait CommandByValue: Clone {}

impl<T: Clone> CommandByValue for T {}

/// A copy of the command for a handler that takes it by value.
#[inline]
pub fn clone_command<T: CommandByValue>(command: &T) -> T {
    command.clone()
}

/// The old payload of a typed upcaster.
#[diagnostic::on_unimplemented(
    message = "the upcaster's input `{Self}` must implement `Deserialize`",
    label = "the stored payload is decoded into `{Self}`",
    note = "add `#[derive(Deserialize)]` to `{Self}`"
)]
pub trait UpcastInput: serde::de::DeserializeOwned {}

impl<T: serde::de::DeserializeOwned> UpcastInput for T {}

/// Decodes the stored payload into a typed upcaster's input.
pub fn from_payload<T: UpcastInput>(payload: serde_json::Value) -> Result<T, crate::UpcastError> {
    Ok(serde_json::from_value(payload)?)
}

fn from_text<T: UpcastInput>(text: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(text)
}

/// How an upcaster's input is decoded, from a JSON value or from text.
///
/// Built once per upcaster, in one constant spanned on the input type, so an
/// input without `Deserialize` is reported once, there.
pub struct UpcastInputFns<T> {
    /// From the value an earlier step produced.
    pub from_value: fn(serde_json::Value) -> Result<T, crate::UpcastError>,
    /// From the stored text.
    pub from_text: fn(&str) -> Result<T, serde_json::Error>,
}

/// The input functions of `T`.
pub const fn upcast_input<T: UpcastInput>() -> UpcastInputFns<T> {
    UpcastInputFns {
        from_value: from_payload::<T>,
        from_text: from_text::<T>,
    }
}

/// The new payload of a typed upcaster.
#[diagnostic::on_unimplemented(
    message = "the upcaster's output `{Self}` must implement `Serialize`",
    label = "the upcast payload is encoded from `{Self}`",
    note = "add `#[derive(Serialize)]` to `{Self}`"
)]
pub trait UpcastOutput: serde::Serialize + 'static {}

impl<T: serde::Serialize + 'static> UpcastOutput for T {}

/// Encodes a typed upcaster's output as the new payload.
pub fn to_payload<T: UpcastOutput>(new: &T) -> Result<serde_json::Value, crate::UpcastError> {
    serde_json::to_value(new)
        .map_err(|e| crate::UpcastError::with_source("cannot serialize the upcast payload", e))
}

fn accepts<T: 'static>(out: &dyn Any) -> bool {
    out.is::<Option<T>>()
}

fn slot<T: 'static>(out: &mut dyn Any) -> Option<&mut Option<T>> {
    out.downcast_mut()
}

/// How a typed upcaster's output is encoded, or handed over as it is.
///
/// Built once per upcaster, in one constant spanned on the output type.
pub struct UpcastOutputFns<T> {
    /// Encodes it as JSON, for a next step or a decoder of another type.
    pub to_value: fn(&T) -> Result<serde_json::Value, crate::UpcastError>,
    /// Whether a decoder's slot holds this type.
    pub accepts: fn(&dyn Any) -> bool,
    /// The decoder's slot, if it holds this type.
    pub slot: fn(&mut dyn Any) -> Option<&mut Option<T>>,
}

/// The output functions of `T`.
pub const fn upcast_output<T: UpcastOutput>() -> UpcastOutputFns<T> {
    UpcastOutputFns {
        to_value: to_payload::<T>,
        accepts: accepts::<T>,
        slot: slot::<T>,
    }
}

/// A typed upcaster run on stored text: the text decoded straight into its
/// input, the output put in the decoder's slot.
#[inline(always)]
pub fn typed_from_text<Old, New>(
    text: &str,
    out: &mut dyn Any,
    from: u32,
    decode: fn(&str) -> Result<Old, serde_json::Error>,
    convert: fn(Old) -> Result<New, crate::UpcastError>,
    slot: fn(&mut dyn Any) -> Option<&mut Option<New>>,
) -> Result<(), DecodeErrorKind> {
    let old = decode(text).map_err(|error| {
        // Text that is not JSON at all is a bad payload, as on the JSON path;
        // JSON of the wrong shape is the upcaster's input not matching.
        if error.is_syntax() || error.is_eof() {
            DecodeErrorKind::Payload(error)
        } else {
            DecodeErrorKind::Upcast {
                from,
                source: error.into(),
            }
        }
    })?;
    put(out, from, convert(old), slot)
}

/// A typed upcaster run on the value an earlier step produced, the output
/// put in the decoder's slot.
pub fn typed_from_value<Old, New>(
    value: serde_json::Value,
    out: &mut dyn Any,
    from: u32,
    decode: fn(serde_json::Value) -> Result<Old, crate::UpcastError>,
    convert: fn(Old) -> Result<New, crate::UpcastError>,
    slot: fn(&mut dyn Any) -> Option<&mut Option<New>>,
) -> Result<(), DecodeErrorKind> {
    let old = decode(value).map_err(|source| DecodeErrorKind::Upcast { from, source })?;
    put(out, from, convert(old), slot)
}

#[inline(always)]
fn put<New>(
    out: &mut dyn Any,
    from: u32,
    new: Result<New, crate::UpcastError>,
    slot: fn(&mut dyn Any) -> Option<&mut Option<New>>,
) -> Result<(), DecodeErrorKind> {
    let new = new.map_err(|source| DecodeErrorKind::Upcast { from, source })?;
    match slot(out) {
        Some(slot) => {
            *slot = Some(new);
            Ok(())
        }
        // The decoder asks `accepts` first, so this is a caller's mistake.
        None => Err(DecodeErrorKind::Upcast {
            from,
            source: crate::UpcastError::new(
                "the decoder's slot is not of the upcaster's output type",
            ),
        }),
    }
}

pub use crate::upcast::TypedUpcast;

/// Whether the event names of a projection's or saga's handlers are
/// distinct: two handlers for one event type (imported under two names, so
/// the macro could not tell) fail to compile.
pub const fn distinct_events(names: &[&str]) -> bool {
    let mut i = 0;
    while i < names.len() {
        let mut j = i + 1;
        while j < names.len() {
            if same_str(names[i], names[j]) {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `record` is one of the events whose `is_named` functions are given
/// (a saga's `#[start]` events).
pub fn is_any_of(record: &RecordedEvent, events: &[fn(&str) -> bool]) -> bool {
    events.iter().any(|is_named| is_named(&record.event_name))
}

/// Turns a projection or saga handler's error into a `ProjectionError`.
pub fn projection_error<E: Into<crate::error::BoxError>>(
    error: E,
) -> crate::projection::ProjectionError {
    crate::projection::ProjectionError::handler(error)
}

/// What a `#[projection]` or `#[saga]` handler (or `#[reset]` method) may
/// return besides nothing: `()` or a `Result<(), E>`.
#[diagnostic::on_unimplemented(
    message = "a #[projection] or #[saga] handler cannot return `{Self}`",
    label = "expected nothing or `Result<(), E>`",
    note = "a handler returns nothing, or `Result<(), E>` whose error converts into `Box<dyn Error + Send + Sync>`"
)]
pub trait HandlerOutput {
    /// The handler's error.
    type Error;
    /// The outcome as a `Result`.
    fn into_handler_result(self) -> Result<(), Self::Error>;
}

impl HandlerOutput for () {
    type Error = Infallible;
    #[inline]
    fn into_handler_result(self) -> Result<(), Infallible> {
        Ok(())
    }
}

impl<E> HandlerOutput for Result<(), E> {
    type Error = E;
    #[inline]
    fn into_handler_result(self) -> Result<(), E> {
        self
    }
}

/// The error of a `#[projection]` or `#[saga]` handler.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error of a #[projection] or #[saga] handler",
    label = "does not convert into `Box<dyn Error + Send + Sync>`",
    note = "implement `std::error::Error` for `{Self}` (which must also be `Send + Sync + 'static`), or return a `String`, a `Box<dyn Error + Send + Sync>` or a `ProjectionError`"
)]
pub trait HandlerError: Into<crate::error::BoxError> {}

impl<E: Into<crate::error::BoxError>> HandlerError for E {}

/// Splits what a handler returns into its error, unconverted.
///
/// Built once per handler returning `Result<(), E>` written out, in one
/// constant spanned on the return type, next to [`handler_error`] spanned on
/// `E`: each mistake is reported once, on the user's type.
pub const fn handler_output<R, E>() -> fn(R) -> Result<(), E>
where
    R: HandlerOutput<Error = E>,
{
    R::into_handler_result
}

/// Converts a handler's error.
pub const fn handler_error<E: HandlerError>() -> fn(E) -> crate::projection::ProjectionError {
    projection_error::<E>
}

/// Splits what a handler returns and converts its error, for return types
/// that do not spell out their error (`anyhow::Result<()>`, an alias).
pub const fn handler_output_converted<R>() -> fn(R) -> Result<(), crate::projection::ProjectionError>
where
    R: HandlerOutput,
    R::Error: HandlerError,
{
    converted_output::<R>
}

fn converted_output<R>(output: R) -> Result<(), crate::projection::ProjectionError>
where
    R: HandlerOutput,
    R::Error: HandlerError,
{
    output.into_handler_result().map_err(projection_error)
}
