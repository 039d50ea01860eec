//! What a projection backend can tell about every projection it keeps:
//! versions, checkpoints and leases, for operators in any process.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::store::StoreError;

/// Who holds a projection's lease, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredLease {
    /// The runner instance holding it.
    pub owner: Uuid,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// One version of a projection (or saga) as its backend records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredProjection {
    /// The projection's name.
    pub name: String,
    /// The version.
    pub version: u32,
    /// Where the version keeps its checkpoint, lease and parked events.
    pub slot: String,
    /// The events the version handles, as first recorded.
    pub events: Vec<String>,
    /// Whether this is the version queries read (the highest activated).
    pub active: bool,
    /// When a program first ran the version, where the backend keeps it.
    pub registered_at: Option<DateTime<Utc>>,
    /// When the version was activated, where the backend keeps it.
    pub activated_at: Option<DateTime<Utc>>,
    /// Its committed checkpoint.
    pub checkpoint: Option<u64>,
    /// Its lease, if one is recorded (it may have expired).
    pub lease: Option<StoredLease>,
}

/// What a backend keeps under one slot (a version's, or one partition's
/// of a partitioned version: see
/// [`partition_slot`](crate::projection::partition_slot)).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StoredSlot {
    /// Its committed checkpoint.
    pub checkpoint: Option<u64>,
    /// Its lease, if one is recorded (it may have expired).
    pub lease: Option<StoredLease>,
}

/// Lists what a projection backend keeps, across every process using it.
#[async_trait]
pub trait ProjectionCatalog: Send + Sync + 'static {
    /// Every recorded version of every projection, by name and version.
    async fn projections(&self) -> Result<Vec<StoredProjection>, StoreError>;

    /// The checkpoint and lease under `slot` (each `None` when none is
    /// recorded): how operators see the partitions of a partitioned
    /// version, whose own slot holds neither.
    async fn slot(&self, slot: &str) -> Result<StoredSlot, StoreError>;
}
