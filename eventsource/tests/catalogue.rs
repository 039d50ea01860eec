//! The event catalogue and the schema lock on events defined with the
//! macros: schemas from the type and from a typed upcaster's input, and the
//! stored payloads of a memory store validated against them.

use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::registry::{
    Catalogue, FlowGraph, PayloadCheck, Registry, Sampling, SchemaLock, SchemaSource,
};
use eventsource::store::ExpectedVersion;
use eventsource::{Metadata, NewEvent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version 2: the amount in cents, where version 1 had a decimal `price`.
#[derive(Event, Serialize, Deserialize, JsonSchema, Debug, Clone)]
#[event(name = "cat.Priced", version = 2, aliases = ["cat.PriceSet"])]
struct Priced {
    sku: String,
    cents: i64,
}

/// Version 1 of `cat.Priced`, as the upcaster reads it.
#[derive(Deserialize, JsonSchema)]
struct PricedV1 {
    sku: String,
    price: f64,
}

#[upcaster(event = "cat.Priced", from = 1)]
fn priced_v1(old: PricedV1) -> Priced {
    Priced {
        sku: old.sku,
        cents: (old.price * 100.0).round() as i64,
    }
}

/// An event without a JSON Schema: catalogued, not checked.
#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "cat.Noted")]
struct Noted {
    text: String,
}

#[test]
fn the_catalogue_has_a_schema_per_version_and_the_handlers() {
    let catalogue = Catalogue::of(Registry::global());
    let priced = catalogue.event("cat.Priced").expect("catalogued");
    assert_eq!(priced.version, 2);
    assert_eq!(priced.aliases, ["cat.PriceSet"]);
    assert_eq!(priced.upcasters.len(), 1);
    assert_eq!(priced.upcasters[0].0, 1);
    assert!(priced.upcasters[0].1.ends_with("::priced_v1"));
    let sources: Vec<SchemaSource> = priced.versions.iter().map(|v| v.source).collect();
    assert_eq!(
        sources,
        [SchemaSource::UpcasterInput, SchemaSource::EventType]
    );
    let v1 = priced
        .schema(1)
        .expect("version 1 from the upcaster's input");
    assert_eq!(v1["properties"]["price"]["type"], "number");
    let v2 = priced.schema(2).expect("version 2 from the type");
    assert_eq!(v2["properties"]["cents"]["type"], "integer");

    let noted = catalogue.event("cat.Noted").expect("catalogued");
    assert_eq!(noted.versions[0].source, SchemaSource::Unknown);

    let markdown = catalogue.to_markdown();
    assert!(markdown.contains("## `cat.Priced`\n"));
    assert!(markdown.contains("- aliases: `cat.PriceSet`\n"));
    assert!(markdown.contains("### Version 1 (from the upcaster's input type)\n"));
    assert!(markdown.contains("No schema: derive `schemars::JsonSchema`"));
    let json = serde_json::to_value(&catalogue).expect("serializable");
    assert!(json["events"].as_array().is_some_and(|e| !e.is_empty()));
}

#[test]
fn a_fresh_lock_records_every_known_version_and_then_is_up_to_date() {
    let catalogue = Catalogue::of(Registry::global());
    let report = SchemaLock::default().check(&catalogue);
    assert!(!report.is_up_to_date());
    assert!(!report.is_breaking());
    let lock = SchemaLock::default()
        .updated(&catalogue)
        .expect("no breaking change");
    let priced = &lock.events["cat.Priced"];
    assert_eq!(priced.version, 2);
    assert_eq!(priced.versions.keys().copied().collect::<Vec<_>>(), [1, 2]);
    assert!(!lock.events.contains_key("cat.Noted") || lock.events["cat.Noted"].versions.is_empty());
    let again = lock.check(&catalogue);
    assert!(again.is_up_to_date(), "{again}");
    assert!(
        again
            .to_string()
            .contains("unchecked: event `cat.Noted` has no JSON Schema")
    );
    let reread = SchemaLock::parse(&lock.to_json()).expect("round trip");
    assert_eq!(reread, lock);
}

#[test]
fn the_lock_file_helpers_write_then_check() {
    let dir = std::env::temp_dir().join(format!("es-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join("events.lock.json");
    let _ = std::fs::remove_file(&path);
    let catalogue = Catalogue::of(Registry::global());
    let missing = SchemaLock::check_file(&path, &catalogue).expect_err("no file yet");
    assert!(missing.to_string().starts_with("no schema lock at "));
    SchemaLock::write_updated(&path, &catalogue).expect("written");
    let report = SchemaLock::check_file(&path, &catalogue).expect("readable");
    assert!(report.is_up_to_date(), "{report}");
    std::fs::write(&path, "{not json").expect("writable");
    let broken = SchemaLock::check_file(&path, &catalogue).expect_err("not a lock");
    assert!(
        broken
            .to_string()
            .starts_with("the schema lock is not valid: ")
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn stored_payloads_are_validated_against_their_recorded_version() {
    let store = InMemoryStore::new();
    let event = |name: &str, version: u32, payload: &str| {
        NewEvent::new(name, version, payload.to_owned(), Metadata::new())
    };
    store
        .append(
            "sku-1",
            "cat.Shelf",
            ExpectedVersion::NoStream,
            vec![
                event("cat.PriceSet", 1, r#"{"sku":"sku-1","price":1.5}"#),
                event("cat.Priced", 2, r#"{"sku":"sku-1","cents":150}"#),
                event("cat.Noted", 1, r#"{"text":"fine"}"#),
            ],
        )
        .await
        .expect("appended");
    let check = PayloadCheck::new(&Catalogue::of(Registry::global()), None).expect("valid schemas");
    let clean = check.run(&store, Sampling::All).await.expect("readable");
    assert!(clean.is_clean(), "{clean}");
    assert_eq!((clean.checked, clean.unchecked), (2, 1));

    // A version 1 payload written with the field of version 2.
    store
        .append(
            "sku-2",
            "cat.Shelf",
            ExpectedVersion::NoStream,
            vec![event("cat.Priced", 1, r#"{"sku":"sku-2","cents":99}"#)],
        )
        .await
        .expect("appended");
    let report = check.run(&store, Sampling::All).await.expect("readable");
    assert_eq!(report.problems.len(), 1, "{report}");
    let problem = &report.problems[0];
    assert_eq!(
        (problem.stream_id.as_str(), problem.schema_version),
        ("sku-2", 1)
    );
    assert_eq!(problem.errors, ["\"price\" is a required property"]);
}

#[test]
fn the_flow_graph_of_a_small_program_renders_in_every_format() {
    let graph = FlowGraph::of(Registry::global());
    assert!(graph.node("event:cat.Priced").is_some());
    let mermaid = graph.to_mermaid();
    assert!(mermaid.contains("([\"cat.Priced\"])"), "{mermaid}");
    let svg = graph.to_svg();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    let texts: String = doc
        .descendants()
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("\n");
    for node in &graph.nodes {
        let label = format!("{}: {}", node.kind.as_str(), node.name);
        assert!(texts.contains(&label), "{label} drawn");
    }
    let json: serde_json::Value = serde_json::from_str(&graph.to_json()).expect("JSON");
    assert_eq!(
        json["nodes"].as_array().map(Vec::len),
        Some(graph.nodes.len())
    );
}

#[test]
fn the_test_helper_fails_on_a_breaking_change_with_what_to_do() {
    let dir = std::env::temp_dir().join(format!("es-lock-helper-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join("events.lock.json");
    let catalogue = Catalogue::of(Registry::global());
    let mut lock = SchemaLock::default()
        .updated(&catalogue)
        .expect("no breaking change");
    std::fs::write(&path, lock.to_json()).expect("writable");
    eventsource::testing::assert_schema_lock(&path);

    // The lock recorded `cents` as text: the code's integer breaks it.
    let recorded = lock
        .events
        .get_mut("cat.Priced")
        .and_then(|e| e.versions.get_mut(&2))
        .expect("version 2 recorded");
    recorded["properties"]["cents"]["type"] = "string".into();
    std::fs::write(&path, lock.to_json()).expect("writable");
    let panic = std::panic::catch_unwind(|| eventsource::testing::assert_schema_lock(&path))
        .expect_err("a breaking change fails the helper");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.starts_with(
            "breaking: event `cat.Priced` version 2: field `cents` changed type from string to integer; stored payloads of version 2 may no longer decode: bump the version (`#[event(name = \"cat.Priced\", version = 3)]`) and add an upcaster from version 2 (`#[upcaster(event = \"cat.Priced\", from = 2)]`)\n"
        ),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
