//! The catalogue's entries, read from a registry.

use serde::Serialize;
use serde_json::Value;

use crate::registry::checked::Registry;

/// Where a version's schema came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SchemaSource {
    /// The event type itself (the current version).
    EventType,
    /// The input type of the typed upcaster from this version.
    UpcasterInput,
    /// Nothing: the type derives no JSON Schema, or the upcaster takes JSON.
    Unknown,
}

/// One version of an event and its schema.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VersionSchema {
    /// The version.
    pub version: u32,
    /// Where the schema came from.
    pub source: SchemaSource,
    /// The JSON Schema, when known.
    pub schema: Option<Value>,
}

/// One event of the catalogue.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CatalogueEntry {
    /// The stored name.
    pub name: String,
    /// The current version.
    pub version: u32,
    /// Earlier names.
    pub aliases: Vec<String>,
    /// The Rust type.
    pub rust_type: String,
    /// The upcasters, oldest first: `(from, function)`, each lifting `from`
    /// to `from + 1`.
    pub upcasters: Vec<(u32, String)>,
    /// Every version from 1 to the current one, oldest first.
    pub versions: Vec<VersionSchema>,
    /// The aggregates that emit it.
    pub emitted_by: Vec<String>,
    /// The projections that handle it.
    pub projections: Vec<String>,
    /// The sagas that handle it.
    pub sagas: Vec<String>,
}

impl CatalogueEntry {
    /// The schema of `version`, when known.
    pub fn schema(&self, version: u32) -> Option<&Value> {
        self.versions
            .iter()
            .find(|v| v.version == version)
            .and_then(|v| v.schema.as_ref())
    }
}

/// The catalogue of every registered event, sorted by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Catalogue {
    /// The events.
    pub events: Vec<CatalogueEntry>,
}

impl Catalogue {
    /// The catalogue of `registry`.
    pub fn of(registry: &Registry) -> Self {
        let parts = registry.parts();
        let current = |name: &str| registry.event(name).map_or("", |e| e.name).to_owned();
        let handling = |names: &[&str], event: &str| names.iter().any(|n| current(n) == event);
        let mut events: Vec<CatalogueEntry> = registry
            .events()
            .map(|event| {
                let chain = registry.chain(event.name);
                let upcasters: Vec<(u32, String)> = chain
                    .steps()
                    .map(|u| (u.from, u.function.to_owned()))
                    .collect();
                let versions = (1..=event.version)
                    .map(|version| {
                        let schema = if version == event.version {
                            (event.schema)().map(|s| (SchemaSource::EventType, s))
                        } else {
                            chain
                                .steps()
                                .find(|u| u.from == version)
                                .and_then(|u| (u.input_schema)())
                                .map(|s| (SchemaSource::UpcasterInput, s))
                        };
                        match schema {
                            Some((source, schema)) => VersionSchema {
                                version,
                                source,
                                schema: Some(schema),
                            },
                            None => VersionSchema {
                                version,
                                source: SchemaSource::Unknown,
                                schema: None,
                            },
                        }
                    })
                    .collect();
                let names = |list: Vec<&str>| {
                    let mut list: Vec<String> = list.into_iter().map(str::to_owned).collect();
                    list.sort();
                    list.dedup();
                    list
                };
                CatalogueEntry {
                    name: event.name.to_owned(),
                    version: event.version,
                    aliases: event.aliases.iter().map(|a| (*a).to_owned()).collect(),
                    rust_type: event.rust_type.to_owned(),
                    upcasters,
                    versions,
                    emitted_by: names(
                        parts
                            .aggregates
                            .iter()
                            .filter(|a| handling(a.events, event.name))
                            .map(|a| a.name)
                            .collect(),
                    ),
                    projections: names(
                        parts
                            .projections
                            .iter()
                            .filter(|p| handling(p.events, event.name))
                            .map(|p| p.name)
                            .collect(),
                    ),
                    sagas: names(
                        parts
                            .sagas
                            .iter()
                            .filter(|s| handling(s.events, event.name))
                            .map(|s| s.name)
                            .collect(),
                    ),
                }
            })
            .collect();
        events.sort_by(|a, b| a.name.cmp(&b.name));
        Self { events }
    }

    /// The entry of event `name` (its current name).
    pub fn event(&self, name: &str) -> Option<&CatalogueEntry> {
        self.events.iter().find(|e| e.name == name)
    }
}
