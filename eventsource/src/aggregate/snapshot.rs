//! How an aggregate's state is written to and read from snapshots, for the
//! code `#[derive(Aggregate)]` generates (reached through `__private`).

/// Serializes an aggregate's state for a snapshot.
#[inline]
pub fn encode_snapshot<T: serde::Serialize>(state: &T) -> Result<String, serde_json::Error> {
    serde_json::to_string(state)
}

/// Restores an aggregate's state from a snapshot.
#[inline]
pub fn decode_snapshot<T: serde::de::DeserializeOwned>(
    state: &str,
) -> Result<T, serde_json::Error> {
    serde_json::from_str(state)
}

/// An aggregate state that can be written to snapshots.
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes snapshots, so it must implement `Serialize`",
    label = "`snapshot_every` needs the aggregate's state to be serializable",
    note = "add `#[derive(Serialize, Deserialize)]` to `{Self}`, or remove `snapshot_every`"
)]
pub trait SnapshotEncode: serde::Serialize {}

impl<T: serde::Serialize> SnapshotEncode for T {}

/// An aggregate state that can be read from snapshots.
#[diagnostic::on_unimplemented(
    message = "`{Self}` takes snapshots, so it must implement `Deserialize`",
    label = "`snapshot_every` needs the aggregate's state to be deserializable",
    note = "add `#[derive(Serialize, Deserialize)]` to `{Self}`, or remove `snapshot_every`"
)]
pub trait SnapshotDecode: serde::de::DeserializeOwned {}

impl<T: serde::de::DeserializeOwned> SnapshotDecode for T {}

/// How an aggregate's state is written to and read from snapshots.
///
/// Built once per aggregate, in one constant spanned on `snapshot_every`, so
/// a state without serde is reported once, there.
pub struct SnapshotFns<T> {
    /// Serializes the state.
    pub encode: fn(&T) -> Result<String, serde_json::Error>,
    /// Deserializes the state.
    pub decode: fn(&str) -> Result<T, serde_json::Error>,
}

/// The snapshot functions of `T`.
pub const fn snapshot_fns<T: SnapshotEncode + SnapshotDecode>() -> SnapshotFns<T> {
    SnapshotFns {
        encode: encode_snapshot::<T>,
        decode: decode_snapshot::<T>,
    }
}
