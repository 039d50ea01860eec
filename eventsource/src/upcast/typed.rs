//! Typed upcasters: an upcaster on structs rather than JSON values, and how
//! its output is handed to the decoder without a JSON value in between.
//!
//! Everything here serves the code `#[upcaster]` generates, which reaches it
//! through the hidden `__private` module.

use std::any::Any;

use serde_json::Value;

use super::UpcastError;
use crate::event::DecodeErrorKind;

/// A typed upcaster run on a JSON value an earlier step produced, its output
/// put in the decoder's slot.
pub type TypedFromValue = fn(Value, &mut dyn Any) -> Result<(), DecodeErrorKind>;

/// How an upcaster that returns a typed struct hands that struct over.
///
/// The last step of a chain usually produces the event's own type, which
/// the JSON form of the chain would serialize into a `Value` only for the
/// decoder to deserialize it again. With these functions the decoder passes
/// a slot of its own type (`&mut Option<T>`, as `&mut dyn Any`) and the step
/// fills it directly; a record one version behind is decoded from its text
/// straight into the upcaster's input, with no JSON value at all.
///
/// `#[upcaster]` builds this for every upcaster with a typed output.
#[derive(Clone, Copy, Debug)]
pub struct TypedUpcast {
    /// Whether the slot is an `Option` of the upcaster's output type.
    pub accepts: fn(&dyn Any) -> bool,
    /// Decodes the input from stored JSON text, upcasts it and fills the slot.
    pub from_text: fn(&str, &mut dyn Any) -> Result<(), DecodeErrorKind>,
    /// The same from the JSON value an earlier step produced (`None` when
    /// the upcaster takes a JSON value, which the JSON form already does).
    pub from_value: Option<TypedFromValue>,
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
pub fn from_payload<T: UpcastInput>(payload: Value) -> Result<T, UpcastError> {
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
    pub from_value: fn(Value) -> Result<T, UpcastError>,
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
pub fn to_payload<T: UpcastOutput>(new: &T) -> Result<Value, UpcastError> {
    serde_json::to_value(new)
        .map_err(|e| UpcastError::with_source("cannot serialize the upcast payload", e))
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
    pub to_value: fn(&T) -> Result<Value, UpcastError>,
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
    convert: fn(Old) -> Result<New, UpcastError>,
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
    value: Value,
    out: &mut dyn Any,
    from: u32,
    decode: fn(Value) -> Result<Old, UpcastError>,
    convert: fn(Old) -> Result<New, UpcastError>,
    slot: fn(&mut dyn Any) -> Option<&mut Option<New>>,
) -> Result<(), DecodeErrorKind> {
    let old = decode(value).map_err(|source| DecodeErrorKind::Upcast { from, source })?;
    put(out, from, convert(old), slot)
}

#[inline(always)]
fn put<New>(
    out: &mut dyn Any,
    from: u32,
    new: Result<New, UpcastError>,
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
            source: UpcastError::new("the decoder's slot is not of the upcaster's output type"),
        }),
    }
}
