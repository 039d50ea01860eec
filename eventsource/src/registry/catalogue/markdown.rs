//! The event catalogue as a Markdown document.

use std::fmt::Write as _;

use super::entries::{Catalogue, SchemaSource};

impl Catalogue {
    /// The catalogue as a Markdown document: a section per event, its
    /// summary as a list, then each version's schema in a fenced JSON block.
    pub fn to_markdown(&self) -> String {
        render(self)
    }
}

fn render(catalogue: &Catalogue) -> String {
    let mut out = String::from("# Event catalogue\n\n");
    if catalogue.events.is_empty() {
        out.push_str("No events are registered.\n");
        return out;
    }
    for event in &catalogue.events {
        let _ = writeln!(out, "## `{}`\n", event.name);
        let _ = writeln!(out, "- current version: {}", event.version);
        let _ = writeln!(out, "- Rust type: `{}`", event.rust_type);
        let _ = writeln!(out, "- aliases: {}", list(&event.aliases));
        let chain: Vec<String> = event
            .upcasters
            .iter()
            .map(|(from, function)| format!("{from} → {} (`{function}`)", from + 1))
            .collect();
        let _ = writeln!(out, "- upcasters: {}", plain(&chain));
        let _ = writeln!(out, "- emitted by: {}", list(&event.emitted_by));
        let _ = writeln!(out, "- projections: {}", list(&event.projections));
        let _ = writeln!(out, "- sagas: {}", list(&event.sagas));
        out.push('\n');
        for version in event.versions.iter().rev() {
            let source = match version.source {
                SchemaSource::EventType => "from the event type",
                SchemaSource::UpcasterInput => "from the upcaster's input type",
                SchemaSource::Unknown => "unknown",
            };
            let _ = writeln!(out, "### Version {} ({source})\n", version.version);
            match &version.schema {
                Some(schema) => {
                    let text = serde_json::to_string_pretty(schema).unwrap_or_default();
                    let _ = writeln!(out, "```json\n{text}\n```\n");
                }
                None => out.push_str(
                    "No schema: derive `schemars::JsonSchema` on the type (or the typed upcaster's input) to record one.\n\n",
                ),
            }
        }
    }
    out
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items
            .iter()
            .map(|i| format!("`{i}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn plain(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}
