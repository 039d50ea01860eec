//! The JSON Schema of an event's payload, for the event catalogue and the
//! schema lock.
//!
//! `#[derive(Event)]` implements [`EventSchema`] for every event: a type that
//! also derives `schemars::JsonSchema` has a schema, any other has none (and
//! the catalogue and the lock say so rather than failing). The choice is made
//! at compile time, by which method the probe below resolves to.

use std::marker::PhantomData;
use std::ops::Deref;

use serde_json::Value;

/// The JSON Schema of an event's payload, implemented by `#[derive(Event)]`.
///
/// ```
/// use eventsource::event::EventSchema;
/// use eventsource::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, schemars::JsonSchema, Debug)]
/// #[event(name = "docs.Described")]
/// struct Described {
///     what: String,
/// }
///
/// #[derive(Event, Serialize, Deserialize, Debug)]
/// #[event(name = "docs.Undescribed")]
/// struct Undescribed {
///     what: String,
/// }
///
/// let schema = Described::event_schema().expect("a schema");
/// assert_eq!(schema["properties"]["what"]["type"], "string");
/// assert!(Undescribed::event_schema().is_none());
/// ```
pub trait EventSchema {
    /// The payload's JSON Schema (draft 2020-12), or `None` when the type
    /// does not derive `schemars::JsonSchema`.
    fn event_schema() -> Option<Value>;
}

/// The JSON Schema of `T`, as a JSON value.
pub(crate) fn schema_of<T: schemars::JsonSchema>() -> Value {
    schemars::schema_for!(T).to_value()
}

/// Stands for type `T` while the derive's code asks whether it has a schema.
#[doc(hidden)]
#[derive(Debug)]
pub struct SchemaProbe<T>(PhantomData<T>);

impl<T> SchemaProbe<T> {
    /// A probe for `T`.
    #[doc(hidden)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T> Default for SchemaProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

// `probe.probe_schema()` resolves to the inherent method below when `T`
// has a JSON Schema; otherwise that method's bound fails and the call goes
// through `Deref` to `NoSchema`'s. Unlike a pair of traits, this needs no
// import at the call site, which keeps the derive's code short.
impl<T: schemars::JsonSchema> SchemaProbe<T> {
    /// `T`'s schema.
    #[doc(hidden)]
    pub fn probe_schema(&self) -> Option<Value> {
        Some(schema_of::<T>())
    }
}

/// What a probe of a type without a JSON Schema resolves to.
#[doc(hidden)]
#[derive(Debug)]
pub struct NoSchema;

impl NoSchema {
    /// No schema.
    #[doc(hidden)]
    pub fn probe_schema(&self) -> Option<Value> {
        None
    }
}

impl<T> Deref for SchemaProbe<T> {
    type Target = NoSchema;

    fn deref(&self) -> &NoSchema {
        &NoSchema
    }
}
