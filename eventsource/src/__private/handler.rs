//! For the handlers of `#[projection]` and `#[saga]` blocks.

pub use crate::projection::handler::{
    HandlerError, HandlerOutput, distinct_events, handler_error, handler_output,
    handler_output_converted, projection_error,
};
pub use crate::saga::is_any_of;
