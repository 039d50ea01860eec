//! Every `#[event]` option: version, aliases, an explicit `crate` path, and
//! several attributes on one type.

use eventsource::event::codec::decode_event;
use eventsource::Registry;
use eventsource::prelude::*;
use eventsource_tests::stored;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "pass.AccountOpened", version = 2)]
#[event(aliases = ["pass.Opened", "legacy.AccountCreated"], crate = ::eventsource)]
struct AccountOpened {
    owner: String,
    overdraft_limit: i64,
}

/// A single alias may be written without the brackets.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "pass.AccountClosed", aliases = "pass.Closed",)]
struct AccountClosed;

#[upcaster(event = "pass.AccountOpened", from = 1)]
fn account_opened_v1(
    mut v1: serde_json::Value,
) -> Result<serde_json::Value, UpcastError> {
    v1.as_object_mut()
        .ok_or_else(UpcastError::not_an_object)?
        .insert("overdraft_limit".into(), 0.into());
    Ok(v1)
}

fn main() {
    assert_eq!(AccountOpened::VERSION, 2);
    assert_eq!(AccountOpened::ALIASES, ["pass.Opened", "legacy.AccountCreated"]);
    assert!(AccountOpened::is_named("legacy.AccountCreated"));
    assert!(AccountClosed::is_named("pass.Closed"));

    // A version-1 record stored under an old name is upcast on read.
    let record = stored("pass.Opened", 1, r#"{"owner":"ada"}"#);
    let opened: AccountOpened = decode_event(&record).unwrap();
    assert_eq!(
        opened,
        AccountOpened {
            owner: "ada".into(),
            overdraft_limit: 0,
        }
    );

    eventsource::testing::assert_registry_valid();
    let registry = Registry::global();
    assert_eq!(
        registry.event("legacy.AccountCreated").map(|e| e.name),
        Some("pass.AccountOpened")
    );
}
