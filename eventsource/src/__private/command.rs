//! For `#[derive(Command)]` and the command handlers of `#[aggregate_impl]`.

pub use crate::command::handler::{CommandByValue, HandlerResult, clone_command};
pub use crate::command::id::{AggregateId, aggregate_id};
