//! Events and upcasters declared in another crate are found by the registry.

use eventsource::Registry;
use eventsource::event::codec::decode_event;
use eventsource::prelude::*;
use eventsource_fixture_events::{ParcelDelivered, ParcelShipped};

fn record(name: &str, version: u32, payload: &str) -> RecordedEvent {
    RecordedEvent {
        event_id: eventsource::uuid::Uuid::now_v7(),
        stream_id: "parcel-1".into(),
        aggregate_type: "fixture.Parcel".into(),
        stream_version: 1,
        global_position: 1,
        event_name: name.into(),
        schema_version: version,
        payload: payload.into(),
        metadata: Metadata::new().into(),
        recorded_at: eventsource::chrono::Utc::now(),
    }
}

#[test]
fn the_registry_lists_events_and_upcasters_of_another_crate() {
    let registry = Registry::global();
    eventsource::testing::assert_registry_valid();
    let shipped = registry.event("fixture.ParcelShipped").expect("registered");
    assert_eq!(shipped.version, 2);
    assert_eq!(
        shipped.rust_type,
        "eventsource_fixture_events::ParcelShipped"
    );
    assert_eq!(
        registry.event("fixture.ParcelSent").map(|e| e.name),
        Some("fixture.ParcelShipped")
    );
    assert!(registry.event(ParcelDelivered::NAME).is_some());
    let upcaster = registry
        .upcasters()
        .find(|u| u.event == "fixture.ParcelShipped")
        .expect("registered");
    assert_eq!(
        upcaster.function,
        "eventsource_fixture_events::parcel_shipped_v1"
    );
}

#[test]
fn records_decode_through_the_other_crates_upcaster() {
    let old = record("fixture.ParcelSent", 1, r#"{"dest":"Lyon"}"#);
    let shipped: ParcelShipped = decode_event(&old).unwrap();
    assert_eq!(shipped.destination, "Lyon");
}
