//! The crates and standard items generated code names, so that users add no
//! dependencies and no name in scope can shadow them.

pub use async_trait::async_trait;
pub use inventory;
pub use serde;
pub use serde_json;

pub use core::any::Any;
pub use core::convert::{From, Infallible, Into};
pub use core::option::Option;
pub use core::result::Result;
pub use std::boxed::Box;
pub use std::string::{String, ToString};
pub use std::sync::OnceLock;
pub use std::vec::Vec;
