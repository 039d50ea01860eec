//! What the code `#[projection]` and `#[saga]` generate for their handlers
//! needs: each handler's return value split and its error converted, checked
//! once per handler, and the check that no two handlers take one event.
//! Reached through `__private`.

use std::convert::Infallible;

use super::ProjectionError;
use crate::BoxError;

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

/// Turns a projection or saga handler's error into a `ProjectionError`.
pub fn projection_error<E: Into<BoxError>>(error: E) -> ProjectionError {
    ProjectionError::handler(error)
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
pub trait HandlerError: Into<BoxError> {}

impl<E: Into<BoxError>> HandlerError for E {}

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
pub const fn handler_error<E: HandlerError>() -> fn(E) -> ProjectionError {
    projection_error::<E>
}

/// Splits what a handler returns and converts its error, for return types
/// that do not spell out their error (`anyhow::Result<()>`, an alias).
pub const fn handler_output_converted<R>() -> fn(R) -> Result<(), ProjectionError>
where
    R: HandlerOutput,
    R::Error: HandlerError,
{
    converted_output::<R>
}

fn converted_output<R>(output: R) -> Result<(), ProjectionError>
where
    R: HandlerOutput,
    R::Error: HandlerError,
{
    output.into_handler_result().map_err(projection_error)
}
