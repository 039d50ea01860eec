//! For `#[derive(Aggregate)]`: the snapshot functions of the state.

pub use crate::aggregate::snapshot::{
    SnapshotDecode, SnapshotEncode, SnapshotFns, decode_snapshot, encode_snapshot, snapshot_fns,
};
