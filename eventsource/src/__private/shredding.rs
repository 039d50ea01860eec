//! For `#[derive(Event)]`'s personal fields.

pub use crate::shredding::{PersonalData, PersonalField};
