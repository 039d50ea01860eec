//! For `#[derive(Query)]` and the query handlers of `#[read_model]`.

pub use crate::query::handler::{
    QueryByValue, QueryHandlerError, clone_query, query_answer, query_error,
};
pub use futures::future::BoxFuture;
