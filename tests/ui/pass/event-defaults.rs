//! `#[event(name = "...")]` alone: version 1, no aliases.

use eventsource::event::codec::{decode_event, encode_event};
use eventsource::Registry;
use eventsource::prelude::*;
use eventsource_tests::stored;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "pass.Opened")]
struct Opened {
    owner: String,
}

/// Unit and enum events work too.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "pass.Pinged")]
struct Pinged;

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "pass.Flagged")]
enum Flagged {
    Red,
    Amber { reason: String },
}

fn main() {
    assert_eq!(Opened::NAME, "pass.Opened");
    assert_eq!(Opened::VERSION, 1);
    assert!(Opened::ALIASES.is_empty());

    let encoded = encode_event(&Opened { owner: "ada".into() }).unwrap();
    assert_eq!((encoded.name, encoded.version), ("pass.Opened", 1));
    let record = stored(encoded.name, encoded.version, &encoded.payload);
    let decoded: Opened = decode_event(&record).unwrap();
    assert_eq!(decoded, Opened { owner: "ada".into() });

    let record = stored("pass.Pinged", 1, "null");
    assert_eq!(decode_event::<Pinged>(&record).unwrap(), Pinged);
    let flagged = Flagged::Amber { reason: "late".into() };
    let encoded = encode_event(&flagged).unwrap();
    let record = stored(encoded.name, 1, &encoded.payload);
    assert_eq!(decode_event::<Flagged>(&record).unwrap(), flagged);
    assert_ne!(Flagged::Red, flagged);

    eventsource::testing::assert_registry_valid();
    // The three above, and the runtime's own `eventsource.DeadlineReached`
    // and tombstone, `StreamDeleted`.
    assert_eq!(Registry::global().events().count(), 5);
}
