//! What registry validation reports.

use std::fmt;

/// One inconsistency found in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistryProblem {
    /// Two or more Rust types claim one event name.
    DuplicateEventName {
        /// The contested name.
        name: &'static str,
        /// Every type claiming it.
        types: Vec<&'static str>,
    },
    /// An alias is also another event's name or another event's alias.
    AliasCollision {
        /// The alias.
        alias: &'static str,
        /// The event declaring it.
        event: &'static str,
        /// The event whose name or alias it collides with.
        other: &'static str,
    },
    /// A version below the current one has no upcaster to the next version.
    MissingUpcaster {
        /// The event.
        event: &'static str,
        /// The version with no way up.
        from: u32,
        /// The current version.
        current: u32,
    },
    /// An upcaster starts at or above the event's current version.
    UpcasterNotBelowCurrent {
        /// The event.
        event: &'static str,
        /// The upcaster's starting version.
        from: u32,
        /// The current version.
        current: u32,
        /// The upcaster function.
        function: &'static str,
    },
    /// Two upcasters claim the same step.
    DuplicateUpcaster {
        /// The event.
        event: &'static str,
        /// The step's starting version.
        from: u32,
        /// Every function claiming it.
        functions: Vec<&'static str>,
    },
    /// An upcaster names an event no type declares.
    UpcasterForUnknownEvent {
        /// The name given to the upcaster.
        event: &'static str,
        /// The upcaster function.
        function: &'static str,
    },
    /// Two types share an aggregate, command, projection or saga name.
    DuplicateName {
        /// What kind of item (`aggregate`, `command`, `projection`, `saga`).
        kind: &'static str,
        /// The contested name.
        name: &'static str,
        /// Every type claiming it.
        types: Vec<&'static str>,
    },
    /// A projection and a saga share a name. A saga runs as a projection of
    /// that name, so the two would share one checkpoint, one lease and one
    /// set of dead-letter entries.
    ProjectionAndSagaShareName {
        /// The shared name.
        name: &'static str,
        /// Every projection type with that name.
        projections: Vec<&'static str>,
        /// Every saga type with that name.
        sagas: Vec<&'static str>,
    },
    /// An aggregate, projection or saga handles an event name no type declares.
    UnknownEventHandled {
        /// What kind of item handles it.
        kind: &'static str,
        /// Its name.
        name: &'static str,
        /// The unknown event name.
        event: &'static str,
    },
    /// Two or more query handlers answer one query.
    DuplicateQueryHandler {
        /// The query.
        query: &'static str,
        /// Every handler, as `read model::method`.
        handlers: Vec<String>,
    },
    /// A command targets an aggregate that is not registered.
    UnknownAggregate {
        /// The command.
        command: &'static str,
        /// The aggregate name it targets.
        aggregate: &'static str,
    },
}

impl fmt::Display for RegistryProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateEventName { name, types } => {
                write!(f, "event name `{name}` is claimed by {}", List(types))
            }
            Self::AliasCollision {
                alias,
                event,
                other,
            } => write!(
                f,
                "alias `{alias}` of event `{event}` is already a name or alias of event `{other}`"
            ),
            Self::MissingUpcaster {
                event,
                from,
                current,
            } => write!(
                f,
                "event `{event}` has no upcaster from version {from} to {} (current version {current})",
                from + 1
            ),
            Self::UpcasterNotBelowCurrent {
                event,
                from,
                current,
                function,
            } => write!(
                f,
                "upcaster `{function}` starts at version {from} of `{event}`, \
                 which is not below the current version {current}"
            ),
            Self::DuplicateUpcaster {
                event,
                from,
                functions,
            } => write!(
                f,
                "upcasters {} all upgrade `{event}` from version {from}",
                List(functions)
            ),
            Self::UpcasterForUnknownEvent { event, function } => write!(
                f,
                "upcaster `{function}` names event `{event}`, which no type declares"
            ),
            Self::DuplicateName { kind, name, types } => {
                write!(f, "{kind} name `{name}` is claimed by {}", List(types))
            }
            Self::ProjectionAndSagaShareName {
                name,
                projections,
                sagas,
            } => write!(
                f,
                "projection {} and saga {} are both named `{name}`: they would share one \
                 checkpoint, one lease and one set of dead-letter entries; rename one of them",
                List(projections),
                List(sagas)
            ),
            Self::UnknownEventHandled { kind, name, event } => write!(
                f,
                "{kind} `{name}` handles event `{event}`, which no type declares"
            ),
            Self::DuplicateQueryHandler { query, handlers } => {
                let handlers: Vec<&str> = handlers.iter().map(String::as_str).collect();
                write!(
                    f,
                    "query `{query}` is answered by {}: a query has one handler; remove all but one",
                    List(&handlers)
                )
            }
            Self::UnknownAggregate { command, aggregate } => write!(
                f,
                "command `{command}` targets aggregate `{aggregate}`, which is not registered"
            ),
        }
    }
}

struct List<'a, 'b>(&'a [&'b str]);

impl fmt::Display for List<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            match i {
                0 => {}
                _ if i + 1 == self.0.len() => f.write_str(" and ")?,
                _ => f.write_str(", ")?,
            }
            write!(f, "`{item}`")?;
        }
        Ok(())
    }
}

/// Every problem found by [`Registry::validate`](super::Registry::validate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryReport {
    /// The problems, in a stable order.
    pub problems: Vec<RegistryProblem>,
}

impl fmt::Display for RegistryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the event registry has {} problem(s):",
            self.problems.len()
        )?;
        for problem in &self.problems {
            write!(f, "\n  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RegistryReport {}
