//! The schema drift check, case by case: each folder of `tests/drift/`
//! holds a lock file (`lock.json`), the code's schemas (`code.json`) and
//! the exact report expected (`expected.txt`): the check's message, then
//! what updating the lock does.
//!
//! Regenerate the expected reports with `EVENTSOURCE_BLESS=1 cargo test -p
//! eventsource-cqrs --test schema_drift`, then read every changed file.

use std::collections::BTreeMap;
use std::path::Path;

use eventsource::registry::{
    Catalogue, CatalogueEntry, LockError, SchemaLock, SchemaSource, VersionSchema,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// One event as a fixture describes the code.
#[derive(Deserialize)]
struct CodeEvent {
    name: String,
    version: u32,
    aliases: Vec<String>,
    schemas: BTreeMap<u32, Value>,
}

#[derive(Deserialize)]
struct Code {
    events: Vec<CodeEvent>,
}

fn catalogue(code: Code) -> Catalogue {
    Catalogue {
        events: code
            .events
            .into_iter()
            .map(|e| CatalogueEntry {
                versions: (1..=e.version)
                    .map(|version| VersionSchema {
                        version,
                        source: if version == e.version {
                            SchemaSource::EventType
                        } else {
                            SchemaSource::UpcasterInput
                        },
                        schema: e.schemas.get(&version).cloned(),
                    })
                    .collect(),
                name: e.name,
                version: e.version,
                aliases: e.aliases,
                rust_type: "fixture::Event".into(),
                upcasters: Vec::new(),
                emitted_by: Vec::new(),
                projections: Vec::new(),
                sagas: Vec::new(),
            })
            .collect(),
    }
}

/// The check's report and the update's outcome, as one text.
fn outcome(dir: &Path) -> String {
    let read = |file: &str| {
        std::fs::read_to_string(dir.join(file))
            .unwrap_or_else(|e| panic!("{}/{file}: {e}", dir.display()))
    };
    let lock = SchemaLock::parse(&read("lock.json")).expect("a valid lock fixture");
    let code: Code = serde_json::from_str(&read("code.json")).expect("a valid code fixture");
    let catalogue = catalogue(code);
    let mut text = lock.check(&catalogue).to_string();
    text.push_str("--- update\n");
    match lock.updated(&catalogue) {
        Ok(updated) => {
            assert!(
                updated.check(&catalogue).is_up_to_date(),
                "{}: the updated lock is up to date",
                dir.display()
            );
            for (name, event) in &updated.events {
                let versions: Vec<String> = event.versions.keys().map(u32::to_string).collect();
                text.push_str(&format!(
                    "recorded `{name}` at version {}, schemas of versions [{}]\n",
                    event.version,
                    versions.join(", ")
                ));
            }
        }
        Err(LockError::Breaking(report)) => {
            assert!(report.is_breaking());
            text.push_str("refused: the lock is left as it was\n");
        }
        Err(other) => panic!("{}: {other}", dir.display()),
    }
    text
}

#[test]
fn every_fixture_gives_its_exact_report() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/drift");
    let bless = std::env::var_os("EVENTSOURCE_BLESS").is_some();
    let mut dirs: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/drift exists")
        .map(|e| e.expect("a readable entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "the fixtures are found");
    let mut failures = Vec::new();
    for dir in &dirs {
        let actual = outcome(dir);
        let expected_path = dir.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, &actual).expect("writable fixture");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if actual != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- actual\n{actual}",
                dir.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same rules on the schemas `schemars` derives from real types.
mod real_types {
    use super::*;

    mod v1 {
        use super::JsonSchema;

        #[derive(JsonSchema)]
        #[allow(dead_code)]
        pub(super) struct Placed {
            pub(super) order_id: String,
            pub(super) total: i64,
            pub(super) kind: Kind,
        }

        #[derive(JsonSchema)]
        #[allow(dead_code)]
        pub(super) enum Kind {
            Retail,
            Wholesale { account: String },
        }
    }

    mod compatible {
        use super::JsonSchema;

        #[derive(JsonSchema)]
        #[allow(dead_code)]
        pub(super) struct Placed {
            pub(super) order_id: String,
            pub(super) total: f64,
            pub(super) kind: Kind,
            pub(super) note: Option<String>,
            #[serde(default)]
            pub(super) priority: u8,
        }

        #[derive(JsonSchema)]
        #[allow(dead_code)]
        pub(super) enum Kind {
            Retail,
            Wholesale { account: String },
            Internal,
        }
    }

    mod breaking {
        use super::JsonSchema;

        #[derive(JsonSchema)]
        #[allow(dead_code)]
        pub(super) struct Placed {
            pub(super) order_id: u64,
            pub(super) kind: Kind,
            pub(super) currency: String,
        }

        #[derive(JsonSchema)]
        #[allow(dead_code)]
        pub(super) enum Kind {
            Retail,
        }
    }

    fn check_against_v1(schema: Value) -> Vec<String> {
        let v1 = schemars::schema_for!(v1::Placed).to_value();
        let lock = SchemaLock::parse(
            &serde_json::json!({
                "format": 1,
                "events": {"orders.placed": {"version": 1, "versions": {"1": v1}}}
            })
            .to_string(),
        )
        .expect("a valid lock");
        let catalogue = catalogue(Code {
            events: vec![CodeEvent {
                name: "orders.placed".into(),
                version: 1,
                aliases: Vec::new(),
                schemas: BTreeMap::from([(1, schema)]),
            }],
        });
        lock.check(&catalogue)
            .changes
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn compatible_changes_to_a_derived_schema() {
        let changes = check_against_v1(schemars::schema_for!(compatible::Placed).to_value());
        assert_eq!(
            changes,
            [
                "compatible: event `orders.placed` version 1: the schema changed without breaking stored payloads"
            ]
        );
    }

    #[test]
    fn breaking_changes_to_a_derived_schema() {
        let changes = check_against_v1(schemars::schema_for!(breaking::Placed).to_value());
        let tail = "stored payloads of version 1 may no longer decode: bump the version (`#[event(name = \"orders.placed\", version = 2)]`) and add an upcaster from version 1 (`#[upcaster(event = \"orders.placed\", from = 1)]`)";
        assert_eq!(
            changes,
            [
                format!(
                    "breaking: event `orders.placed` version 1: field `kind` no longer accepts 1 of its earlier variants (a variant was removed, renamed or changed); {tail}"
                ),
                format!(
                    "breaking: event `orders.placed` version 1: field `order_id` changed type from string to integer; {tail}"
                ),
                format!(
                    "breaking: event `orders.placed` version 1: field `total` was removed or renamed; {tail}"
                ),
                format!(
                    "breaking: event `orders.placed` version 1: required field `currency` was added without a default; {tail}"
                ),
            ]
        );
    }
}
