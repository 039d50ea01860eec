//! The `#[aggregate_id]` field of a command, as text (for the code
//! `#[derive(Command)]` generates, reached through `__private`).

use std::fmt;

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
