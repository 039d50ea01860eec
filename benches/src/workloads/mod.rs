//! The workloads, one module each, and what they share.

pub(crate) mod commands;
pub(crate) mod memory;
pub(crate) mod postgres;
pub(crate) mod rehydration;
pub(crate) mod relay;
pub(crate) mod stream;

use tokio::runtime::{Builder, Runtime};

/// A single-threaded runtime: the in-memory workloads measure one core's work.
pub(crate) fn runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}
