//! Appending events.

pub(crate) mod group;
mod statement;
pub(crate) mod writers;
pub(crate) mod xid_guard;

pub(crate) use statement::*;
