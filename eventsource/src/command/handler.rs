//! What the code `#[aggregate_impl]` generates for a command handler needs:
//! the handler's `Result`-like return value split, and a command taken by
//! value cloned. Reached through `__private`.

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
