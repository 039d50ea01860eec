//! Every upcaster form: JSON, JSON without `Result`, typed, and fallible
//! typed, chained from version 1 to 5.

use eventsource::Registry;
use eventsource::prelude::*;
use eventsource_tests::stored;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "pass.Registered", version = 5)]
struct Registered {
    email: String,
    name: String,
    verified: bool,
}

/// 1 → 2, on JSON, fallible: `mail` became `email`.
#[upcaster(event = "pass.Registered", from = 1)]
fn registered_v1(mut v1: Value) -> Result<Value, UpcastError> {
    let mail = v1
        .get_mut("mail")
        .map(Value::take)
        .ok_or_else(|| UpcastError::missing_field("mail"))?;
    Ok(json!({ "email": mail }))
}

/// 2 → 3, on JSON, infallible.
#[upcaster(event = "pass.Registered", from = 2)]
fn registered_v2(mut v2: serde_json::Value) -> serde_json::Value {
    v2["name"] = json!("unknown");
    v2
}

#[derive(Deserialize)]
struct RegisteredV3 {
    email: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct RegisteredV4 {
    email: String,
    name: String,
    verified: Option<bool>,
}

/// 3 → 4, typed.
#[upcaster(event = "pass.Registered", from = 3)]
fn registered_v3(v3: RegisteredV3) -> RegisteredV4 {
    RegisteredV4 {
        email: v3.email,
        name: v3.name,
        verified: None,
    }
}

/// 4 → 5, typed and fallible.
#[upcaster(event = "pass.Registered", from = 4)]
fn registered_v4(v4: RegisteredV4) -> Result<Registered, UpcastError> {
    if v4.email.is_empty() {
        return Err(UpcastError::new("empty email"));
    }
    Ok(Registered {
        email: v4.email,
        name: v4.name,
        verified: v4.verified.unwrap_or(false),
    })
}

fn main() {
    eventsource::testing::assert_registry_valid();
    let record = stored("pass.Registered", 1, r#"{"mail":"a@b.c"}"#);
    let registered: Registered = eventsource::event::codec::decode_event(&record).unwrap();
    assert_eq!(
        registered,
        Registered {
            email: "a@b.c".into(),
            name: "unknown".into(),
            verified: false,
        }
    );
    let record = stored("pass.Registered", 1, r#"{"mail":""}"#);
    let error = eventsource::event::codec::decode_event::<Registered>(&record).unwrap_err();
    assert!(error.to_string().contains("empty email"), "{error}");
    let record = stored("pass.Registered", 1, r#"{}"#);
    assert!(eventsource::event::codec::decode_event::<Registered>(&record).is_err());
    assert_eq!(Registry::global().upcasters().count(), 4);
}
