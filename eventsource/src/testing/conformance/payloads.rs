//! Stored payloads validated against the schema of their recorded version:
//! the same events give the same report on every store.

use serde_json::json;

use crate::event::{Metadata, NewEvent};
use crate::registry::{
    Catalogue, CatalogueEntry, PayloadCheck, Sampling, SchemaSource, VersionSchema,
};
use crate::store::ExpectedVersion::{Any, NoStream};

use super::support::{Step, append, batch, ensure};
use super::{Outcome, Subject};

/// `conformance.Happened` at version 1: `n` an integer, `text` a string.
fn catalogue() -> Catalogue {
    let schema = json!({
        "type": "object",
        "properties": {"n": {"type": "integer"}, "text": {"type": "string"}},
        "required": ["n", "text"],
    });
    Catalogue {
        events: vec![CatalogueEntry {
            name: "conformance.Happened".into(),
            version: 1,
            aliases: Vec::new(),
            rust_type: "conformance::Happened".into(),
            upcasters: Vec::new(),
            versions: vec![VersionSchema {
                version: 1,
                source: SchemaSource::EventType,
                schema: Some(schema),
            }],
            emitted_by: Vec::new(),
            projections: Vec::new(),
            sagas: Vec::new(),
        }],
    }
}

pub(super) async fn payloads_are_validated_against_their_version(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 3)).await?;
    let bad = NewEvent::new(
        "conformance.Happened",
        1,
        r#"{"n":"four","text":"x"}"#,
        Metadata::new(),
    );
    let unknown_version = NewEvent::new("conformance.Happened", 7, r#"{"n":5}"#, Metadata::new());
    let unknown_event = NewEvent::new("conformance.Other", 1, r#"{"n":6}"#, Metadata::new());
    append(store, "a", Any, vec![bad, unknown_version, unknown_event]).await?;
    append(store, "b", NoStream, batch(8, 2)).await?;

    let check = PayloadCheck::new(&catalogue(), None).step("building the validators")?;
    let all = check
        .run(store, Sampling::All)
        .await
        .step("validating every payload")?;
    ensure!(
        (all.checked, all.unchecked, all.problems.len()) == (6, 2, 1),
        "checked {}, unchecked {}, failed {}; expected 6, 2 and 1",
        all.checked,
        all.unchecked,
        all.problems.len()
    );
    let problem = &all.problems[0];
    ensure!(
        problem.stream_id == "a"
            && problem.event_name == "conformance.Happened"
            && problem.schema_version == 1
            && problem.errors.len() == 1
            && problem.errors[0].starts_with("at /n: "),
        "the failing payload was reported as {problem:?}"
    );

    // One in three by position in the log: the 1st, 4th (the bad one) and
    // 7th events.
    let sampled = check
        .run(store, Sampling::OneIn(3))
        .await
        .step("validating a sample")?;
    ensure!(
        (sampled.checked, sampled.unchecked, sampled.problems.len()) == (3, 0, 1),
        "sampling one in three checked {}, left {} unchecked and failed {}; expected 3, 0 and 1",
        sampled.checked,
        sampled.unchecked,
        sampled.problems.len()
    );
    Ok(())
}
