//! Indexing the registry's parts and finding every inconsistency, one named
//! check per rule.

use std::collections::{BTreeMap, HashMap};

use super::entries::{EventRegistration, RegistryParts};
use super::problems::RegistryProblem;
use crate::upcast::UpcasterChain;

/// What the registry finds in its parts: its events by name, every name
/// and alias to its event, the upcaster chains, and every problem.
#[derive(Debug)]
pub(super) struct Index {
    pub(super) events: BTreeMap<&'static str, EventRegistration>,
    pub(super) names: HashMap<&'static str, &'static str>,
    pub(super) upcasters: BTreeMap<&'static str, UpcasterChain>,
    pub(super) problems: Vec<RegistryProblem>,
}

/// Event names and aliases, each to the event's current name.
type Names = HashMap<&'static str, &'static str>;

/// Items that handle events: `(kind, [(name, rust type, events handled)])`.
/// Each kind's handler types: name, version, Rust type, events handled.
type Handlers = [(
    &'static str,
    Vec<(&'static str, u32, &'static str, &'static [&'static str])>,
); 3];

/// Sorts `parts` (so reports are stable) and indexes them.
pub(super) fn index(parts: &mut RegistryParts) -> Index {
    sort(parts);
    let mut problems = Vec::new();
    let events = check_event_names(parts, &mut problems);
    let names = check_aliases(&events, &mut problems);
    let upcasters = check_upcasters(parts, &events, &names, &mut problems);
    check_upcaster_paths(&events, &upcasters, &mut problems);
    check_handlers(&handlers(parts), &names, &mut problems);
    check_saga_names(parts, &mut problems);
    check_commands(parts, &mut problems);
    check_queries(parts, &mut problems);
    check_query_handlers(parts, &mut problems);
    Index {
        events,
        names,
        upcasters,
        problems,
    }
}

/// inventory yields entries in link order; sorted, reports are stable.
fn sort(parts: &mut RegistryParts) {
    parts.events.sort_by_key(|e| (e.name, e.rust_type));
    parts
        .upcasters
        .sort_by_key(|u| (u.event, u.from, u.function));
    parts.aggregates.sort_by_key(|a| (a.name, a.rust_type));
    parts.commands.sort_by_key(|c| (c.name, c.rust_type));
    parts.projections.sort_by_key(|p| (p.name, p.rust_type));
    parts.sagas.sort_by_key(|s| (s.name, s.rust_type));
    parts.queries.sort_by_key(|q| (q.name, q.rust_type));
    parts
        .query_handlers
        .sort_by_key(|h| (h.query, h.read_model, h.method));
}

/// One type per event name; the events, by name (the first type of a
/// contested name).
fn check_event_names(
    parts: &RegistryParts,
    problems: &mut Vec<RegistryProblem>,
) -> BTreeMap<&'static str, EventRegistration> {
    for (name, types) in group(parts.events.iter().map(|e| (e.name, e.rust_type))) {
        if types.len() > 1 {
            problems.push(RegistryProblem::DuplicateEventName { name, types });
        }
    }
    let mut events = BTreeMap::new();
    for event in &parts.events {
        events.entry(event.name).or_insert(*event);
    }
    events
}

/// An alias names no other event, and no other event's alias; every name
/// and alias, to the event's name.
fn check_aliases(
    events: &BTreeMap<&'static str, EventRegistration>,
    problems: &mut Vec<RegistryProblem>,
) -> Names {
    let mut names: Names = events.keys().map(|name| (*name, *name)).collect();
    for event in events.values() {
        for alias in event.aliases {
            match names.get(alias) {
                Some(other) if *other != event.name => {
                    problems.push(RegistryProblem::AliasCollision {
                        alias,
                        event: event.name,
                        other,
                    });
                }
                Some(_) => {}
                None => {
                    names.insert(alias, event.name);
                }
            }
        }
    }
    names
}

/// Each upcaster names a known event, starts below its current version,
/// and is the only one of its step; the chains, by event.
fn check_upcasters(
    parts: &RegistryParts,
    events: &BTreeMap<&'static str, EventRegistration>,
    names: &Names,
    problems: &mut Vec<RegistryProblem>,
) -> BTreeMap<&'static str, UpcasterChain> {
    let mut upcasters: BTreeMap<&'static str, UpcasterChain> = BTreeMap::new();
    let mut claims: BTreeMap<(&'static str, u32), Vec<&'static str>> = BTreeMap::new();
    for up in &parts.upcasters {
        let Some(canonical) = names.get(up.event).copied() else {
            problems.push(RegistryProblem::UpcasterForUnknownEvent {
                event: up.event,
                function: up.function,
            });
            continue;
        };
        let current = events.get(canonical).map_or(0, |e| e.version);
        if up.from >= current {
            problems.push(RegistryProblem::UpcasterNotBelowCurrent {
                event: canonical,
                from: up.from,
                current,
                function: up.function,
            });
            continue;
        }
        claims
            .entry((canonical, up.from))
            .or_default()
            .push(up.function);
        upcasters.entry(canonical).or_default().add(*up);
    }
    for ((event, from), functions) in claims {
        if functions.len() > 1 {
            problems.push(RegistryProblem::DuplicateUpcaster {
                event,
                from,
                functions,
            });
        }
    }
    upcasters
}

/// Every version below the current one has an upcaster to the next.
fn check_upcaster_paths(
    events: &BTreeMap<&'static str, EventRegistration>,
    upcasters: &BTreeMap<&'static str, UpcasterChain>,
    problems: &mut Vec<RegistryProblem>,
) {
    for event in events.values() {
        for from in 1..event.version {
            let linked = upcasters
                .get(event.name)
                .is_some_and(|chain| chain.step(from).is_some());
            if !linked {
                problems.push(RegistryProblem::MissingUpcaster {
                    event: event.name,
                    from,
                    current: event.version,
                });
            }
        }
    }
}

fn handlers(parts: &RegistryParts) -> Handlers {
    [
        (
            "aggregate",
            parts
                .aggregates
                .iter()
                .map(|a| (a.name, 1, a.rust_type, a.events))
                .collect(),
        ),
        (
            "projection",
            parts
                .projections
                .iter()
                .map(|p| (p.name, p.version, p.rust_type, p.events))
                .collect(),
        ),
        (
            "saga",
            parts
                .sagas
                .iter()
                .map(|s| (s.name, 1, s.rust_type, s.events))
                .collect(),
        ),
    ]
}

/// Aggregates, projections and sagas: one type per name of each kind (per
/// name and version, for projections: two versions of one projection run
/// side by side while the new one catches up), and only known events handled.
fn check_handlers(handlers: &Handlers, names: &Names, problems: &mut Vec<RegistryProblem>) {
    for (kind, items) in handlers {
        let mut by_version: BTreeMap<(&'static str, u32), Vec<&'static str>> = BTreeMap::new();
        for (name, version, ty, _) in items {
            let types = by_version.entry((*name, *version)).or_default();
            if !types.contains(ty) {
                types.push(ty);
            }
        }
        for ((name, _), types) in by_version {
            if types.len() > 1 {
                problems.push(RegistryProblem::DuplicateName { kind, name, types });
            }
        }
        for (name, _, _, handled) in items {
            for event in handled.iter() {
                if !names.contains_key(event) {
                    problems.push(RegistryProblem::UnknownEventHandled { kind, name, event });
                }
            }
        }
    }
}

/// A saga runs as a projection under its own name: the two kinds share the
/// checkpoint, lease and dead-letter keys, so their names must differ.
fn check_saga_names(parts: &RegistryParts, problems: &mut Vec<RegistryProblem>) {
    let sagas = group(parts.sagas.iter().map(|s| (s.name, s.rust_type)));
    for (name, projections) in group(parts.projections.iter().map(|p| (p.name, p.rust_type))) {
        if let Some(saga_types) = sagas.get(name) {
            problems.push(RegistryProblem::ProjectionAndSagaShareName {
                name,
                projections,
                sagas: saga_types.clone(),
            });
        }
    }
}

/// One type per command name, and every command's aggregate registered.
fn check_commands(parts: &RegistryParts, problems: &mut Vec<RegistryProblem>) {
    for (name, types) in group(parts.commands.iter().map(|c| (c.name, c.rust_type))) {
        if types.len() > 1 {
            problems.push(RegistryProblem::DuplicateName {
                kind: "command",
                name,
                types,
            });
        }
    }
    for command in &parts.commands {
        if !parts.aggregates.iter().any(|a| a.name == command.aggregate) {
            problems.push(RegistryProblem::UnknownAggregate {
                command: command.name,
                aggregate: command.aggregate,
            });
        }
    }
}

/// One type per query name.
fn check_queries(parts: &RegistryParts, problems: &mut Vec<RegistryProblem>) {
    for (name, types) in group(parts.queries.iter().map(|q| (q.name, q.rust_type))) {
        if types.len() > 1 {
            problems.push(RegistryProblem::DuplicateName {
                kind: "query",
                name,
                types,
            });
        }
    }
}

/// One handler per query: the bus routes a query by its type to exactly
/// one read model. Two read models answering one query in crates that do
/// not see each other compile (each crate sees one); linked into one
/// program, they are reported here.
fn check_query_handlers(parts: &RegistryParts, problems: &mut Vec<RegistryProblem>) {
    let mut by_query: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for handler in &parts.query_handlers {
        by_query
            .entry(handler.query)
            .or_default()
            .push(format!("{}::{}", handler.read_model, handler.method));
    }
    for (query, handlers) in by_query {
        if handlers.len() > 1 {
            problems.push(RegistryProblem::DuplicateQueryHandler { query, handlers });
        }
    }
}

/// Groups `(name, type)` pairs by name, keeping each distinct type once.
fn group(
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
) -> BTreeMap<&'static str, Vec<&'static str>> {
    let mut groups: BTreeMap<&'static str, Vec<&'static str>> = BTreeMap::new();
    for (name, ty) in pairs {
        let types = groups.entry(name).or_default();
        if !types.contains(&ty) {
            types.push(ty);
        }
    }
    groups
}
