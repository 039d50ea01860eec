//! The entries the macros submit to the registry through `inventory`.

use crate::upcast::{TypedUpcast, UpcastFn};

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
    pub typed: Option<TypedUpcast>,
    /// The Rust function, with its module path.
    pub function: &'static str,
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
        }
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

/// A projection, submitted by `#[projection]`.
#[derive(Clone, Copy, Debug)]
pub struct ProjectionRegistration {
    /// The projection name (also its checkpoint key).
    pub name: &'static str,
    /// The Rust type, with its module path.
    pub rust_type: &'static str,
    /// The names of the events it handles.
    pub events: &'static [&'static str],
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
}

inventory::collect!(EventRegistration);
inventory::collect!(UpcasterRegistration);
inventory::collect!(AggregateRegistration);
inventory::collect!(CommandRegistration);
inventory::collect!(ProjectionRegistration);
inventory::collect!(SagaRegistration);
