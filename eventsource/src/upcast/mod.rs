//! Upcasters: pure functions that lift a stored payload one schema version up.

pub(crate) mod chain;

use std::any::Any;
use std::fmt;

use serde_json::Value;

use crate::error::{BoxError, DecodeErrorKind};

pub use chain::UpcasterChain;

/// A JSON upcaster: the payload at version N in, the payload at N + 1 out.
///
/// Upcasters must be pure: no I/O, no clock, no randomness. The same stored
/// payload must always upcast to the same result.
pub type UpcastFn = fn(Value) -> Result<Value, UpcastError>;

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

/// Why an upcaster could not lift a payload.
#[derive(Debug)]
pub struct UpcastError {
    message: String,
    source: Option<BoxError>,
}

impl UpcastError {
    /// An error with a message.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// An error caused by `source`.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The payload lacks a field the upcaster needs.
    pub fn missing_field(field: &str) -> Self {
        Self::new(format!("missing field `{field}`"))
    }

    /// The payload is not a JSON object.
    pub fn not_an_object() -> Self {
        Self::new("payload is not a JSON object")
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for UpcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for UpcastError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl From<serde_json::Error> for UpcastError {
    fn from(err: serde_json::Error) -> Self {
        Self::with_source("payload does not match the upcaster's input type", err)
    }
}

/// Runs a typed upcaster: decodes the old shape, converts, encodes the new one.
///
/// Used by the code `#[upcaster]` generates for functions on typed structs.
pub fn typed<Old, New, F>(payload: Value, f: F) -> Result<Value, UpcastError>
where
    Old: serde::de::DeserializeOwned,
    New: serde::Serialize,
    F: FnOnce(Old) -> New,
{
    let old: Old = serde_json::from_value(payload)?;
    serde_json::to_value(f(old))
        .map_err(|e| UpcastError::with_source("cannot serialize the upcast payload", e))
}

/// Like [`typed`], for typed upcasters that may fail.
pub fn typed_fallible<Old, New, F>(payload: Value, f: F) -> Result<Value, UpcastError>
where
    Old: serde::de::DeserializeOwned,
    New: serde::Serialize,
    F: FnOnce(Old) -> Result<New, UpcastError>,
{
    let old: Old = serde_json::from_value(payload)?;
    serde_json::to_value(f(old)?)
        .map_err(|e| UpcastError::with_source("cannot serialize the upcast payload", e))
}
