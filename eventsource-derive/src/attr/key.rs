//! The keys the attributes take, typed: the parser and every lookup name
//! the same constant, so a misspelt lookup does not compile.

/// A key of an attribute's `key = value` arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// `aggregate = Type` (`#[command]`).
    Aggregate,
    /// `aliases = [...]` (`#[event]`).
    Aliases,
    /// `create` (`#[command_handler]`).
    Create,
    /// `create_if_missing` (`#[command_handler]`).
    CreateIfMissing,
    /// `crate = path`, the runtime's path (every attribute but the handlers').
    Crate,
    /// `dispatches = [Type, ...]` (`#[saga]`).
    Dispatches,
    /// `event = "..."` (`#[upcaster]`).
    Event,
    /// `event_enum = Name` (`#[aggregate_impl]`).
    EventEnum,
    /// `from = N` (`#[upcaster]`).
    From,
    /// `name = "..."`.
    Name,
    /// `partitions = N` (`#[projection]`, `#[saga]`).
    Partitions,
    /// `personal` (a field's `#[event]`).
    Personal,
    /// `projection = Type` or `projection = "name"` (`#[read_model]`).
    Projection,
    /// `replacement = "..."` (a personal field's `#[event]`).
    Replacement,
    /// `result = Type` (`#[query]`).
    Result,
    /// `snapshot_every = N` (`#[aggregate]`).
    SnapshotEvery,
    /// `snapshot_revision = N` (`#[aggregate]`).
    SnapshotRevision,
    /// `subject` (a field's `#[event]`).
    Subject,
    /// `version = N` (`#[event]`).
    Version,
    /// `vis = pub(crate)` (`#[aggregate_impl]`).
    Vis,
}

impl Key {
    /// The key as users write it.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Aggregate => "aggregate",
            Self::Aliases => "aliases",
            Self::Create => "create",
            Self::CreateIfMissing => "create_if_missing",
            Self::Crate => "crate",
            Self::Dispatches => "dispatches",
            Self::Event => "event",
            Self::EventEnum => "event_enum",
            Self::From => "from",
            Self::Name => "name",
            Self::Partitions => "partitions",
            Self::Personal => "personal",
            Self::Projection => "projection",
            Self::Replacement => "replacement",
            Self::Result => "result",
            Self::SnapshotEvery => "snapshot_every",
            Self::SnapshotRevision => "snapshot_revision",
            Self::Subject => "subject",
            Self::Version => "version",
            Self::Vis => "vis",
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
