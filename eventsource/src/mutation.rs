//! Known bugs put back on purpose, to prove that the deterministic
//! simulation (`sim/`) finds them.
//!
//! Each [`Mutation`] names a real mistake the runtime once could make. With
//! the `sim-mutations` feature, `enable` turns one on for the current
//! thread (the simulation runs each seed on one thread); without it, no
//! mutation can be enabled and every check below is a constant `false`.
//! Never enable the feature in a program.

/// A bug the simulation must catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mutation {
    /// The projection runner commits the checkpoint of a batch in a unit of
    /// work of its own, before the unit that writes the read model: a crash
    /// or failure between the two skips the batch.
    CheckpointBeforeReadModel,
    /// The in-memory projection backend commits without checking the lease
    /// owner: an instance that lost its lease still writes.
    UnfencedLease,
    /// A command retried after a version conflict appends its new decision
    /// without an expected version, so a writer that won meanwhile is
    /// overwritten by a decision made on the state before it.
    StaleRetry,
    /// The in-memory store forgets that a batch of event ids is already
    /// stored: a writer retrying after a lost reply stores it twice.
    ReplayedAppendStoredAgain,
    /// The deadline scheduler gives each firing a fresh event id instead of
    /// the deadline's: a deadline fired again after a lost reply, a stall
    /// past its claim or a crash before its removal is stored twice.
    DeadlineFiredTwice,
}

impl Mutation {
    /// Every mutation, in a fixed order.
    pub const ALL: [Mutation; 5] = [
        Mutation::CheckpointBeforeReadModel,
        Mutation::UnfencedLease,
        Mutation::StaleRetry,
        Mutation::ReplayedAppendStoredAgain,
        Mutation::DeadlineFiredTwice,
    ];

    /// A short name, for command lines.
    pub fn name(self) -> &'static str {
        match self {
            Mutation::CheckpointBeforeReadModel => "checkpoint-before-read-model",
            Mutation::UnfencedLease => "unfenced-lease",
            Mutation::StaleRetry => "stale-retry",
            Mutation::ReplayedAppendStoredAgain => "replayed-append-stored-again",
            Mutation::DeadlineFiredTwice => "deadline-fired-twice",
        }
    }

    /// The mutation called `name` (see [`Mutation::name`]).
    pub fn from_name(name: &str) -> Option<Mutation> {
        Mutation::ALL.into_iter().find(|m| m.name() == name)
    }
}

#[cfg(feature = "sim-mutations")]
thread_local! {
    static ENABLED: std::cell::Cell<Option<Mutation>> = const { std::cell::Cell::new(None) };
}

/// Enables `mutation` (or none) on the current thread until changed.
#[cfg(feature = "sim-mutations")]
pub fn enable(mutation: Option<Mutation>) {
    ENABLED.with(|enabled| enabled.set(mutation));
}

/// Whether `mutation` is enabled on the current thread.
#[inline]
pub(crate) fn enabled(mutation: Mutation) -> bool {
    #[cfg(feature = "sim-mutations")]
    {
        ENABLED.with(|enabled| enabled.get() == Some(mutation))
    }
    #[cfg(not(feature = "sim-mutations"))]
    {
        let _ = mutation;
        false
    }
}
