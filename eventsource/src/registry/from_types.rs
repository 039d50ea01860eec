//! Fields of registry entries read from the traits the macros implement, so
//! a mistake is reported once, on the trait impl, rather than at every
//! entry. For the generated code, reached through `__private`.

/// The name of aggregate `A`, for registry entries.
///
/// Requires only `A: Aggregate`, which holds as soon as `#[aggregate_impl]`
/// implemented it, so a missing `#[derive(Aggregate)]` is reported once (on
/// that impl) rather than again at every entry.
pub const fn aggregate_name<A: crate::aggregate::Aggregate>() -> &'static str {
    A::NAME
}

/// The snapshot interval of aggregate `A`, for registry entries.
pub const fn aggregate_snapshot_every<A: crate::aggregate::Aggregate>() -> Option<u64> {
    A::SNAPSHOT_EVERY
}

/// The name of the aggregate that handles command `C`, for registry entries.
///
/// Requires only `C: Command`, so an `aggregate = T` naming a type that is not
/// an aggregate is reported once, on the `Command` impl.
pub const fn command_aggregate_name<C: crate::command::Command>() -> &'static str {
    <C::Aggregate as crate::aggregate::AggregateConfig>::NAME
}

/// The stored names of the events in event set `E`, for registry entries.
pub const fn event_set_names<E: crate::event::EventSet>() -> &'static [&'static str] {
    E::NAMES
}

/// The name of command `C`, for a saga's declared commands
/// (`#[saga(dispatches = [...])]`): a type that is not a command is
/// reported once, on the type as the user wrote it.
pub const fn command_name<C: crate::command::Command>() -> &'static str {
    C::NAME
}
