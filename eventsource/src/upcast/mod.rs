//! Upcasters: pure functions that lift a stored payload one schema version up.

pub(crate) mod chain;
pub(crate) mod typed;

use std::fmt;

use serde_json::Value;

use crate::BoxError;

pub use chain::UpcasterChain;

/// A JSON upcaster: the payload at version N in, the payload at N + 1 out.
///
/// Upcasters must be pure: no I/O, no clock, no randomness. The same stored
/// payload must always upcast to the same result.
pub type UpcastFn = fn(Value) -> Result<Value, UpcastError>;

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
