//! Events and upcasters defined in a crate of their own, so tests can check
//! that the registry finds what other crates declare.

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

/// A parcel was shipped. Version 2 renamed `dest` to `destination`.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "fixture.ParcelShipped", version = 2, aliases = ["fixture.ParcelSent"])]
pub struct ParcelShipped {
    /// Where it goes.
    pub destination: String,
}

/// Renames `dest` to `destination`.
#[upcaster(event = "fixture.ParcelShipped", from = 1)]
pub fn parcel_shipped_v1(mut v1: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    let fields = v1.as_object_mut().ok_or_else(UpcastError::not_an_object)?;
    let dest = fields
        .remove("dest")
        .ok_or_else(|| UpcastError::missing_field("dest"))?;
    fields.insert("destination".into(), dest);
    Ok(v1)
}

/// A parcel arrived.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "fixture.ParcelDelivered")]
pub struct ParcelDelivered {
    /// Who signed for it.
    pub signed_by: String,
}

/// Where a parcel is: a query answered in this crate (another crate
/// answering it too is a registry problem).
#[derive(Query)]
#[query(result = Option<String>, name = "fixture.WhereIsParcel")]
pub struct WhereIsParcel {
    /// The parcel.
    pub parcel: String,
}

/// Parcel locations, answering [`WhereIsParcel`].
pub struct ParcelLocations;

#[read_model]
impl ParcelLocations {
    #[query_handler]
    fn locate(&self, _q: &WhereIsParcel) -> Option<String> {
        None
    }
}
