//! The entries the macros submit to the registry through `inventory`.

use serde_json::Value;

use crate::event::EventSchema;
use crate::shredding::PersonalData;
use crate::upcast::UpcastFn;
use crate::upcast::typed::TypedUpcast;

/// A schema function of an entry that has none.
fn no_schema() -> Option<Value> {
    None
}

/// An event type, submitted by `#[derive(Event)]`.
#[derive(Clone, Copy, Debug)]
pub struct EventRegistration {
    /// The stable stored name.
    pub name: &'static str,
    /// The current schema version.
    pub version: u32,
    /// Earlier names.
    pub aliases: &'static [&'static str],
    /// The Rust type, with its module path.
    pub rust_type: &'static str,
    /// Its personal data, if it has any (`#[event(subject)]`, `#[event(personal)]`).
    pub personal: Option<&'static PersonalData>,
    /// The JSON Schema of the current version's payload, when the type
    /// has one ([`EventSchema`](crate::event::EventSchema)).
    pub schema: fn() -> Option<Value>,
}

impl EventRegistration {
    /// The entry of event `name` at `version`, with its earlier names.
    pub const fn new(
        name: &'static str,
        version: u32,
        aliases: &'static [&'static str],
        rust_type: &'static str,
    ) -> Self {
        Self {
            name,
            version,
            aliases,
            rust_type,
            personal: None,
            schema: no_schema,
        }
    }

    /// The entry of event type `T`, stored as `name` at `version`, with its
    /// earlier names; its payload's JSON Schema is `T`'s
    /// ([`EventSchema`](crate::event::EventSchema)). What `#[derive(Event)]`
    /// submits: one call, where `new(..).with_schema(..)` would be two for
    /// the compiler to evaluate.
    pub const fn of<T: EventSchema>(
        name: &'static str,
        version: u32,
        aliases: &'static [&'static str],
        rust_type: &'static str,
    ) -> Self {
        Self {
            schema: T::event_schema,
            ..Self::new(name, version, aliases, rust_type)
        }
    }

    /// The same entry, with the event's personal data.
    pub const fn with_personal(mut self, personal: &'static PersonalData) -> Self {
        self.personal = Some(personal);
        self
    }

    /// The same entry, its payload's JSON Schema given by `schema`.
    pub const fn with_schema(mut self, schema: fn() -> Option<Value>) -> Self {
        self.schema = schema;
        self
    }
}

/// An upcaster, submitted by `#[upcaster]`.
#[derive(Clone, Copy, Debug)]
pub struct UpcasterRegistration {
    /// The event name (or alias) it upgrades.
    pub event: &'static str,
    /// The version it upgrades from; it produces `from + 1`.
    pub from: u32,
    /// The conversion.
    pub upcast: UpcastFn,
    /// For an upcaster that returns a typed struct, the way to hand that
    /// struct over without going through JSON when it is the event's type.
    #[doc(hidden)]
    pub typed: Option<TypedUpcast>,
    /// The Rust function, with its module path.
    pub function: &'static str,
    /// The JSON Schema of the payload it takes (version `from`), when its
    /// input is a typed struct with one.
    pub input_schema: fn() -> Option<Value>,
}

impl UpcasterRegistration {
    /// A JSON upcaster of `event` from version `from`, implemented by the
    /// Rust function named `function`.
    pub const fn new(
        event: &'static str,
        from: u32,
        upcast: UpcastFn,
        function: &'static str,
    ) -> Self {
        Self {
            event,
            from,
            upcast,
            typed: None,
            function,
            input_schema: no_schema,
        }
    }

    /// The same upcaster, the schema of its input given by `schema`.
    pub const fn with_input_schema(mut self, schema: fn() -> Option<Value>) -> Self {
        self.input_schema = schema;
        self
    }

    /// The same upcaster, handing its typed output over as `typed` says.
    #[doc(hidden)]
    pub const fn with_typed(mut self, typed: TypedUpcast) -> Self {
        self.typed = Some(typed);
        self
    }
}

/// An aggregate, submitted by `#[aggregate_impl]`.
#[derive(Clone, Copy, Debug)]
pub struct AggregateRegistration {
    /// The aggregate type name.
    pub name: &'static str,
    /// The Rust type, with its module path.
    pub rust_type: &'static str,
    /// The names of the events it applies.
    pub events: &'static [&'static str],
    /// Its default snapshot interval.
    pub snapshot_every: Option<u64>,
}

impl AggregateRegistration {
    /// The entry of aggregate `name`, applying `events`.
    pub const fn new(
        name: &'static str,
        rust_type: &'static str,
        events: &'static [&'static str],
        snapshot_every: Option<u64>,
    ) -> Self {
        Self {
            name,
            rust_type,
            events,
            snapshot_every,
        }
    }
}

/// A command, submitted by `#[derive(Command)]`.
#[derive(Clone, Copy, Debug)]
pub struct CommandRegistration {
    /// The command name.
    pub name: &'static str,
    /// The Rust type, with its module path.
    pub rust_type: &'static str,
    /// The aggregate type name it targets.
    pub aggregate: &'static str,
}

impl CommandRegistration {
    /// The entry of command `name`, targeting aggregate `aggregate`.
    pub const fn new(name: &'static str, rust_type: &'static str, aggregate: &'static str) -> Self {
        Self {
            name,
            rust_type,
            aggregate,
        }
    }
}

/// A projection, submitted by `#[projection]`.
#[derive(Clone, Copy, Debug)]
pub struct ProjectionRegistration {
    /// The projection name (also its checkpoint key).
    pub name: &'static str,
    /// The Rust type, with its module path.
    pub rust_type: &'static str,
    /// The names of the events it handles.
    pub events: &'static [&'static str],
    /// Its version (`#[projection(version = N)]`, 1 by default).
    pub version: u32,
}

impl ProjectionRegistration {
    /// The entry of version 1 of projection `name`, handling `events`.
    pub const fn new(
        name: &'static str,
        rust_type: &'static str,
        events: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            rust_type,
            events,
            version: 1,
        }
    }

    /// The same entry, for `version`.
    pub const fn versioned(mut self, version: u32) -> Self {
        self.version = version;
        self
    }
}

/// A saga (process manager), submitted by `#[saga]`.
#[derive(Clone, Copy, Debug)]
pub struct SagaRegistration {
    /// The saga name (also its checkpoint and state key).
    pub name: &'static str,
    /// The Rust type, with its module path.
    pub rust_type: &'static str,
    /// The names of the events it reacts to.
    pub events: &'static [&'static str],
    /// The names of the commands it declares it dispatches, if it declares them.
    pub dispatches: Option<&'static [&'static str]>,
}

impl SagaRegistration {
    /// The entry of saga `name`, reacting to `events`.
    pub const fn new(
        name: &'static str,
        rust_type: &'static str,
        events: &'static [&'static str],
    ) -> Self {
        Self {
            name,
            rust_type,
            events,
            dispatches: None,
        }
    }

    /// The same entry, declaring the commands it dispatches.
    pub const fn dispatching(mut self, commands: Option<&'static [&'static str]>) -> Self {
        self.dispatches = commands;
        self
    }
}

/// A query, submitted by `#[derive(Query)]`.
#[derive(Clone, Copy, Debug)]
pub struct QueryRegistration {
    /// The query name.
    pub name: &'static str,
    /// The Rust type, with its module path.
    pub rust_type: &'static str,
    /// The result type, as written.
    pub result: &'static str,
}

impl QueryRegistration {
    /// The entry of query `name`, answered with `result`.
    pub const fn new(name: &'static str, rust_type: &'static str, result: &'static str) -> Self {
        Self {
            name,
            rust_type,
            result,
        }
    }
}

/// A query handler, submitted by `#[read_model]` for each `#[query_handler]`.
#[derive(Clone, Copy, Debug)]
pub struct QueryHandlerRegistration {
    /// The name of the query it answers.
    pub query: &'static str,
    /// The read model's Rust type, with its module path.
    pub read_model: &'static str,
    /// The handler method.
    pub method: &'static str,
}

impl QueryHandlerRegistration {
    /// The entry of method `method` of `read_model`, answering `query`.
    pub const fn new(query: &'static str, read_model: &'static str, method: &'static str) -> Self {
        Self {
            query,
            read_model,
            method,
        }
    }
}

/// Everything a registry is built from.
#[derive(Clone, Debug, Default)]
pub struct RegistryParts {
    /// Event types.
    pub events: Vec<EventRegistration>,
    /// Upcasters.
    pub upcasters: Vec<UpcasterRegistration>,
    /// Aggregates.
    pub aggregates: Vec<AggregateRegistration>,
    /// Commands.
    pub commands: Vec<CommandRegistration>,
    /// Projections.
    pub projections: Vec<ProjectionRegistration>,
    /// Sagas.
    pub sagas: Vec<SagaRegistration>,
    /// Queries.
    pub queries: Vec<QueryRegistration>,
    /// Query handlers.
    pub query_handlers: Vec<QueryHandlerRegistration>,
}

impl RegistryParts {
    /// Everything the macros submitted in the crates linked into this program.
    pub fn from_inventory() -> Self {
        Self {
            events: inventory::iter::<EventRegistration>().copied().collect(),
            upcasters: inventory::iter::<UpcasterRegistration>().copied().collect(),
            aggregates: inventory::iter::<AggregateRegistration>()
                .copied()
                .collect(),
            commands: inventory::iter::<CommandRegistration>().copied().collect(),
            projections: inventory::iter::<ProjectionRegistration>()
                .copied()
                .collect(),
            sagas: inventory::iter::<SagaRegistration>().copied().collect(),
            queries: inventory::iter::<QueryRegistration>().copied().collect(),
            query_handlers: inventory::iter::<QueryHandlerRegistration>()
                .copied()
                .collect(),
        }
    }
}

inventory::collect!(EventRegistration);
inventory::collect!(UpcasterRegistration);
inventory::collect!(AggregateRegistration);
inventory::collect!(CommandRegistration);
inventory::collect!(ProjectionRegistration);
inventory::collect!(SagaRegistration);
inventory::collect!(QueryRegistration);
inventory::collect!(QueryHandlerRegistration);
