//! Command interceptors: code that runs around every command the bus
//! dispatches, in the order they were added.
//!
//! Before the handler, an interceptor sees the command (its name, its
//! aggregate, its id and, by downcasting, the command itself) and may change
//! its metadata (every event the command produces carries it, and sagas pass
//! its headers on to the commands they dispatch) or refuse the command with
//! an error of its own type. A refused command is neither loaded nor
//! handled: the caller gets [`Error::Refused`](crate::Error::Refused).
//! After the handler, interceptors observe the outcome, in reverse order,
//! so the first one added wraps all the others.

use std::any::Any;
use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;

use super::Command;
use crate::BoxError;
use crate::event::Metadata;
use crate::store::AppendResult;

/// The command an interceptor sees.
#[derive(Clone, Copy)]
pub struct CommandInfo<'a> {
    name: &'static str,
    aggregate: &'static str,
    type_name: &'static str,
    aggregate_id: &'a str,
    command: &'a (dyn Any + Send + Sync),
}

impl<'a> CommandInfo<'a> {
    pub(crate) fn new<C: Command>(command: &'a C, aggregate_id: &'a str) -> Self {
        Self {
            name: C::NAME,
            aggregate: <C::Aggregate as crate::aggregate::AggregateConfig>::NAME,
            type_name: std::any::type_name::<C>(),
            aggregate_id,
            command,
        }
    }

    /// The command's name (`Command::NAME`).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The name of the aggregate it targets.
    pub fn aggregate(&self) -> &'static str {
        self.aggregate
    }

    /// The Rust type of the command, for logs.
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The id of the aggregate it targets.
    pub fn aggregate_id(&self) -> &str {
        self.aggregate_id
    }

    /// The command itself, if it is a `C`.
    pub fn downcast<C: Command>(&self) -> Option<&'a C> {
        self.command.downcast_ref::<C>()
    }

    /// Whether the command is a `C`.
    pub fn is<C: Command>(&self) -> bool {
        self.command.is::<C>()
    }
}

impl std::fmt::Debug for CommandInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandInfo")
            .field("name", &self.name)
            .field("aggregate", &self.aggregate)
            .field("aggregate_id", &self.aggregate_id)
            .finish_non_exhaustive()
    }
}

/// What became of a command, as interceptors observe it afterwards.
#[derive(Debug)]
#[non_exhaustive]
pub enum CommandOutcome<'a> {
    /// The handler decided, and its events (if any) were stored.
    Done {
        /// The aggregate's stream.
        stream_id: &'a str,
        /// The stream's version after the command.
        version: u64,
        /// The names of the events produced, in order.
        events: &'a [&'static str],
        /// Where they were stored (`None` when there were none).
        appended: Option<AppendResult>,
    },
    /// The handler rejected the command with its domain error.
    Rejected,
    /// Running the command failed (store, decoding, creation policy, ...):
    /// the [`Error`](crate::Error).
    Failed(&'a (dyn std::error::Error + Send + Sync)),
}

/// Runs around every command a [`CommandBus`](super::CommandBus) dispatches.
///
/// Both methods do nothing by default; implement the ones needed.
///
/// ```
/// use eventsource::BoxError;
/// use eventsource::command::{CommandInfo, CommandInterceptor};
/// use eventsource::prelude::*;
///
/// /// Stamps every command (and so every event) with the tenant.
/// struct Tenant(&'static str);
///
/// #[eventsource::async_trait]
/// impl CommandInterceptor for Tenant {
///     async fn before(&self, _: &CommandInfo<'_>, metadata: &mut Metadata) -> Result<(), BoxError> {
///         metadata.headers.insert("tenant".into(), self.0.into());
///         Ok(())
///     }
/// }
///
/// let bus = CommandBus::new(InMemoryStore::new())?.with_interceptor(Tenant("acme"));
/// # Ok::<(), eventsource::Error>(())
/// ```
#[async_trait]
pub trait CommandInterceptor: Send + Sync + 'static {
    /// The name errors give the interceptor (its type by default).
    fn name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }

    /// Runs before the command is loaded and handled. An error refuses the
    /// command: nothing is loaded, handled or stored, and the caller gets
    /// [`Error::Refused`](crate::Error::Refused) carrying the error.
    async fn before(
        &self,
        command: &CommandInfo<'_>,
        metadata: &mut Metadata,
    ) -> Result<(), BoxError> {
        let _ = (command, metadata);
        Ok(())
    }

    /// Runs after the command, whatever became of it (not after a refusal).
    async fn after(
        &self,
        command: &CommandInfo<'_>,
        metadata: &Metadata,
        outcome: &CommandOutcome<'_>,
    ) {
        let _ = (command, metadata, outcome);
    }
}

/// The interceptors of a bus, in the order added.
pub(crate) type Interceptors = Arc<Vec<Arc<dyn CommandInterceptor>>>;

/// A command refused by an interceptor before it was loaded.
#[derive(Debug, Error)]
#[error("command `{command}` refused by interceptor `{interceptor}`: {reason}")]
pub struct Refused {
    /// The command's name.
    pub command: &'static str,
    /// The interceptor's [`name`](CommandInterceptor::name).
    pub interceptor: &'static str,
    /// The interceptor's error.
    #[source]
    pub reason: BoxError,
}

impl Refused {
    /// The interceptor's error, if it is an `E`.
    pub fn reason_as<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.reason.downcast_ref::<E>()
    }
}
