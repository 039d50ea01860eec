//! The registry as data, for the CLI's `--json` and the console.

use serde::Serialize;

use crate::registry::Registry;

/// Everything the program registered, and the validation report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RegistryView {
    /// Event types with their versions, aliases and upcaster chains.
    pub events: Vec<EventEntry>,
    /// Aggregates.
    pub aggregates: Vec<AggregateEntry>,
    /// Commands.
    pub commands: Vec<CommandEntry>,
    /// Projections.
    pub projections: Vec<HandlerEntry>,
    /// Sagas.
    pub sagas: Vec<HandlerEntry>,
    /// Every problem validation found (empty: consistent).
    pub problems: Vec<String>,
}

/// One event type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventEntry {
    /// The stored name.
    pub name: String,
    /// The current schema version.
    pub version: u32,
    /// Earlier names.
    pub aliases: Vec<String>,
    /// The Rust type.
    pub rust_type: String,
    /// The upcasters, one per step: `from` → `from + 1`.
    pub upcasters: Vec<UpcasterEntry>,
}

/// One upcaster step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpcasterEntry {
    /// The version it lifts from.
    pub from: u32,
    /// The version it lifts to.
    pub to: u32,
    /// The Rust function.
    pub function: String,
}

/// One aggregate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AggregateEntry {
    /// Its type name.
    pub name: String,
    /// The Rust type.
    pub rust_type: String,
    /// The events it applies.
    pub events: Vec<String>,
    /// Its snapshot interval.
    pub snapshot_every: Option<u64>,
}

/// One command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommandEntry {
    /// Its name.
    pub name: String,
    /// The aggregate it targets.
    pub aggregate: String,
    /// The Rust type.
    pub rust_type: String,
}

/// One projection or saga.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HandlerEntry {
    /// Its name.
    pub name: String,
    /// Its version (sagas: 1).
    pub version: u32,
    /// The Rust type.
    pub rust_type: String,
    /// The events it handles.
    pub events: Vec<String>,
    /// A saga's declared commands (`#[saga(dispatches = [...])]`), when it
    /// declares them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispatches: Option<Vec<String>>,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// `registry` as data.
pub fn registry_view(registry: &Registry) -> RegistryView {
    let parts = registry.parts();
    RegistryView {
        events: registry
            .events()
            .map(|e| EventEntry {
                name: e.name.to_owned(),
                version: e.version,
                aliases: strings(e.aliases),
                rust_type: e.rust_type.to_owned(),
                upcasters: registry
                    .chain(e.name)
                    .steps()
                    .map(|u| UpcasterEntry {
                        from: u.from,
                        to: u.from + 1,
                        function: u.function.to_owned(),
                    })
                    .collect(),
            })
            .collect(),
        aggregates: parts
            .aggregates
            .iter()
            .map(|a| AggregateEntry {
                name: a.name.to_owned(),
                rust_type: a.rust_type.to_owned(),
                events: strings(a.events),
                snapshot_every: a.snapshot_every,
            })
            .collect(),
        commands: parts
            .commands
            .iter()
            .map(|c| CommandEntry {
                name: c.name.to_owned(),
                aggregate: c.aggregate.to_owned(),
                rust_type: c.rust_type.to_owned(),
            })
            .collect(),
        projections: parts
            .projections
            .iter()
            .map(|p| HandlerEntry {
                name: p.name.to_owned(),
                version: p.version,
                rust_type: p.rust_type.to_owned(),
                events: strings(p.events),
                dispatches: None,
            })
            .collect(),
        sagas: parts
            .sagas
            .iter()
            .map(|s| HandlerEntry {
                name: s.name.to_owned(),
                version: 1,
                rust_type: s.rust_type.to_owned(),
                events: strings(s.events),
                dispatches: s.dispatches.map(strings),
            })
            .collect(),
        problems: registry
            .validate()
            .err()
            .map(|report| report.problems.iter().map(|p| p.to_string()).collect())
            .unwrap_or_default(),
    }
}
