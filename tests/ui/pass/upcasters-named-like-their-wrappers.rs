//! Upcasters may have any name, including the names of the functions the
//! macro writes around them: the wrappers never shadow them.

use eventsource::prelude::*;
use eventsource_tests::stored;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "pass.Renamed", version = 4)]
struct Renamed {
    steps: Vec<u32>,
}

#[derive(Serialize, Deserialize)]
struct Steps {
    steps: Vec<u32>,
}

#[upcaster(event = "pass.Renamed", from = 1)]
fn upcast(mut v1: Value) -> Value {
    v1["steps"] = serde_json::json!([1]);
    v1
}

#[upcaster(event = "pass.Renamed", from = 2)]
fn convert(mut v2: Steps) -> Steps {
    v2.steps.push(2);
    v2
}

#[upcaster(event = "pass.Renamed", from = 3)]
fn from_text(v3: Steps) -> Result<Renamed, UpcastError> {
    let mut steps = v3.steps;
    steps.push(3);
    Ok(Renamed { steps })
}

fn main() {
    eventsource::testing::assert_registry_valid();
    for (version, payload, steps) in [
        (1, "{}", vec![1, 2, 3]),
        (2, r#"{"steps":[]}"#, vec![2, 3]),
        (3, r#"{"steps":[]}"#, vec![3]),
    ] {
        let record = stored("pass.Renamed", version, payload);
        let renamed: Renamed = eventsource::event::codec::decode_event(&record).unwrap();
        assert_eq!(renamed.steps, steps);
    }
}
