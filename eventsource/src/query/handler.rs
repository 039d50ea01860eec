//! What the code `#[read_model]` generates for a `#[query_handler]` needs:
//! the answer checked against the query's result type, the handler's error
//! boxed, a query taken by value cloned. Reached through `__private`.

use super::Query;
use crate::BoxError;

/// The handler's answer, which must be the query's result type.
///
/// Called on what the handler returned (its `Ok` value for a `Result`),
/// spanned on the handler's return type: a handler returning another type
/// than the query's result is reported there.
#[inline]
pub fn query_answer<Q: Query>(answer: Q::Result) -> Q::Result {
    answer
}

/// The error of a `#[query_handler]` returning a `Result`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be the error of a #[query_handler]",
    label = "does not convert into `Box<dyn Error + Send + Sync>`",
    note = "implement `std::error::Error` for `{Self}` (which must also be `Send + Sync + 'static`), or return a `String` or a `Box<dyn Error + Send + Sync>`"
)]
pub trait QueryHandlerError: Into<BoxError> {}

impl<E: Into<BoxError>> QueryHandlerError for E {}

/// Boxes a query handler's error.
#[inline]
pub fn query_error<E: QueryHandlerError>(error: E) -> BoxError {
    error.into()
}

/// A query that a handler takes by value: the bus keeps the query (a live
/// query asks it again), so the generated code clones it.
#[diagnostic::on_unimplemented(
    message = "the query handler takes `{Self}` by value, so `{Self}` must implement `Clone`",
    label = "taken by value here",
    note = "take the query by reference (`q: &{Self}`), or add `#[derive(Clone)]` to `{Self}`"
)]
pub trait QueryByValue: Clone {}

impl<T: Clone> QueryByValue for T {}

/// A copy of the query for a handler that takes it by value.
#[inline]
pub fn clone_query<T: QueryByValue>(query: &T) -> T {
    query.clone()
}
