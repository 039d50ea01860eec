//! The runtime's own errors: [`Error`](enum@Error), and [`CommandError`] for
//! running a command. Each subsystem's errors live with it: [`StoreError`] in
//! [`store`](mod@crate::store), [`DecodeError`] in [`event`](mod@crate::event),
//! [`ProjectionError`](crate::projection::ProjectionError) in
//! [`projection`](mod@crate::projection), [`RegistryReport`] in
//! [`registry`](mod@crate::registry).

use std::sync::Arc;

use thiserror::Error;

use crate::command::Refused;
use crate::event::DecodeError;
use crate::registry::RegistryReport;
use crate::store::StoreError;

/// A failure of the runtime: loading, appending, decoding or validation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// The command targets an aggregate whose stream does not exist.
    #[error("{aggregate} stream `{stream_id}` does not exist")]
    NotFound {
        /// The aggregate type.
        aggregate: &'static str,
        /// The stream looked for.
        stream_id: Arc<str>,
    },
    /// A creating command found its stream already present.
    #[error("{aggregate} stream `{stream_id}` already exists (at version {version})")]
    AlreadyExists {
        /// The aggregate type.
        aggregate: &'static str,
        /// The stream.
        stream_id: Arc<str>,
        /// Its current version.
        version: u64,
    },
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A new event could not be serialized.
    #[error("cannot serialize event `{event_name}` for stream `{stream_id}`: {source}")]
    Encode {
        /// The event's name.
        event_name: &'static str,
        /// The stream it was meant for.
        stream_id: Arc<str>,
        /// The serializer's error.
        source: serde_json::Error,
    },
    /// The store failed. A version conflict is one of its answers
    /// ([`StoreError::Conflict`]): the command path returns it once
    /// concurrent writers kept winning and its retries ran out.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A saga that declares the commands it dispatches
    /// (`#[saga(dispatches = [...])]`) dispatched another one; it was not run.
    #[error(
        "saga `{saga}` dispatched command `{command}`, which it does not declare: add it to `#[saga(dispatches = [...])]` (declared: {})",
        declared.join(", ")
    )]
    UndeclaredDispatch {
        /// The saga.
        saga: &'static str,
        /// The command it tried to dispatch.
        command: &'static str,
        /// The commands it declares.
        declared: &'static [&'static str],
    },
    /// The registry of events, upcasters and handlers is inconsistent.
    #[error(transparent)]
    Registry(#[from] Box<RegistryReport>),
    /// A command interceptor refused the command before it was loaded (see
    /// [`CommandInterceptor`](crate::command::CommandInterceptor)).
    #[error(transparent)]
    Refused(Box<Refused>),
}

/// The result of running a command: the domain may reject it, or the runtime may fail.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CommandError<E> {
    /// The command handler returned a domain error; nothing was appended.
    #[error("command rejected: {0}")]
    Rejected(E),
    /// Loading, appending or decoding failed.
    #[error(transparent)]
    Failed(#[from] Error),
}

impl<E> CommandError<E> {
    /// The domain error, if the handler rejected the command.
    pub fn rejection(&self) -> Option<&E> {
        match self {
            Self::Rejected(e) => Some(e),
            Self::Failed(_) => None,
        }
    }

    /// Whether the command failed on a version conflict after its retries
    /// ([`StoreError::is_conflict`]).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Failed(Error::Store(e)) if e.is_conflict())
    }
}

impl<E> From<StoreError> for CommandError<E> {
    fn from(err: StoreError) -> Self {
        Self::Failed(err.into())
    }
}

impl<E> From<DecodeError> for CommandError<E> {
    fn from(err: DecodeError) -> Self {
        Self::Failed(err.into())
    }
}
