//! Paths used by the code the macros generate. Not public API.

pub use async_trait::async_trait;
pub use inventory;
pub use serde;
pub use serde_json;

pub use core::convert::{From, Infallible, Into};
pub use core::option::Option;
pub use core::result::Result;
pub use std::boxed::Box;
pub use std::string::{String, ToString};
pub use std::vec::Vec;

pub use crate::decode::{decode_event, encode_event, unknown_event};
pub use crate::event::{EventOf, IntoEvents};
pub use crate::upcast::{typed as upcast_typed, typed_fallible as upcast_typed_fallible};

/// Splits a command handler's `Result`-like return value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Result`",
    note = "a command handler returning a type named `...Result` must return a `std::result::Result`"
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

/// Requires `T: Clone` at a span the macro chooses, and clones.
#[inline]
pub fn clone_command<T: Clone>(value: &T) -> T {
    value.clone()
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

/// Fails to compile, at the macro's chosen span, unless `T` is an event.
pub const fn assert_event<T: crate::Event>() {}

/// Fails to compile, at the macro's chosen span, unless `C` is a command of `A`.
pub const fn assert_command<C: crate::Command<Aggregate = A>, A: crate::Aggregate>() {}

/// Turns a projection handler's error into a `ProjectionError`.
pub fn projection_error<E: Into<crate::error::BoxError>>(
    error: E,
) -> crate::projection::ProjectionError {
    crate::projection::ProjectionError::handler(error)
}
