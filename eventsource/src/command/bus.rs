//! The command bus: one entry point that routes any command to its aggregate.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::interceptor::{CommandInfo, CommandInterceptor, CommandOutcome, Interceptors, Refused};
use super::{Command, Handles};
use crate::aggregate::Aggregate;
use crate::clock::Clock;
use crate::error::{CommandError, Error};
use crate::event::EventSet;
use crate::event::Metadata;
use crate::registry::Registry;
use crate::repository::{Executed, Repository, RetryPolicy, StateCache};
use crate::store::{EventStore, ExpectedVersion, IntoEventStore, IntoSnapshotStore, SnapshotStore};

/// What [`CommandBus::dispatch`] returns: the outcome of a command on
/// aggregate `A` whose handler rejects with `E` (which must be `Send`, so
/// that dispatching can run on any task).
pub type Dispatched<'a, A, E> = BoxFuture<'a, Result<Executed<A>, CommandError<E>>>;

/// Routes each command to the aggregate its type names, through one store.
///
/// The command's type decides everything at compile time: its aggregate,
/// the handler, the error type. The bus holds the shared store, snapshot
/// store and retry policy, and checks the registry once when built.
///
/// ```
/// use eventsource::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Serialize, Deserialize, Debug)]
/// #[event(name = "docs.Named")]
/// struct Named { name: String }
///
/// #[derive(Command)]
/// #[command(aggregate = Pet)]
/// struct NamePet { #[aggregate_id] id: u64, name: String }
///
/// #[derive(Aggregate, Default)]
/// #[aggregate(name = "docs.Pet")]
/// struct Pet { name: String }
///
/// #[aggregate_impl]
/// impl Pet {
///     #[command_handler(create)]
///     fn name(&self, cmd: &NamePet) -> Named {
///         Named { name: cmd.name.clone() }
///     }
///
///     #[event_sourcing_handler]
///     fn on_named(&mut self, e: &Named) {
///         self.name = e.name.clone();
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let bus = CommandBus::new(InMemoryStore::new())?;
/// let done = bus.dispatch(NamePet { id: 7, name: "Rex".into() }).await?;
/// assert_eq!(done.state.name, "Rex");
/// assert_eq!(&*done.stream_id, "docs.Pet-7");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct CommandBus {
    store: Arc<dyn EventStore>,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    retry: RetryPolicy,
    /// A `StateCache<A>` per aggregate type that has one.
    caches: Arc<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    clock: Clock,
    interceptors: Interceptors,
}

impl std::fmt::Debug for CommandBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandBus")
            .field("snapshots", &self.snapshots.is_some())
            .field("retry", &self.retry)
            .field("cached_aggregates", &self.caches.len())
            .field("clock", &self.clock)
            .field(
                "interceptors",
                &self
                    .interceptors
                    .iter()
                    .map(|i| i.name())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl CommandBus {
    /// A bus over `store`, after checking the registry.
    pub fn new(store: impl IntoEventStore) -> Result<Self, Error> {
        Registry::global().validate().map_err(Box::new)?;
        Ok(Self {
            store: store.into_event_store(),
            snapshots: None,
            retry: RetryPolicy::default(),
            caches: Arc::default(),
            clock: Clock::current(),
            interceptors: Arc::default(),
        })
    }

    /// Caches the states of up to `capacity` recently used aggregates of
    /// type `A`, so their commands skip the load (see
    /// [`Repository::with_cache`]).
    pub fn with_cache<A: Aggregate + Clone>(mut self, capacity: usize) -> Self {
        let cache: Arc<dyn Any + Send + Sync> = Arc::new(StateCache::<A>::new(capacity));
        Arc::make_mut(&mut self.caches).insert(TypeId::of::<A>(), cache);
        self
    }

    /// Uses `snapshots` for every aggregate with a snapshot policy.
    pub fn with_snapshots(mut self, snapshots: impl IntoSnapshotStore) -> Self {
        self.snapshots = Some(snapshots.into_snapshot_store());
        self
    }

    /// Sets the retry policy for version conflicts.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Takes the ids, times and retry waits of every command from `clock`
    /// (by default the ambient clock when the bus was built: see
    /// [`Clock::current`]).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Runs `interceptor` around every command, after those added before
    /// it (and, once the command ran, before them): see
    /// [`CommandInterceptor`].
    pub fn with_interceptor(mut self, interceptor: impl CommandInterceptor) -> Self {
        Arc::make_mut(&mut self.interceptors).push(Arc::new(interceptor));
        self
    }

    /// The event store.
    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// A repository for `A` sharing this bus's stores and policy.
    pub fn repository<A: Aggregate>(&self) -> Repository<A> {
        let cache = self
            .caches
            .get(&TypeId::of::<A>())
            .and_then(|cache| cache.clone().downcast::<StateCache<A>>().ok());
        Repository::unchecked(self.store.clone())
            .with_shared_snapshots(self.snapshots.clone())
            .with_retry(self.retry.clone())
            .with_shared_cache(cache)
            .with_clock(self.clock.clone())
    }

    /// Runs `command` against its aggregate.
    pub fn dispatch<C, E>(&self, command: C) -> Dispatched<'_, C::Aggregate, E>
    where
        C: Command,
        C::Aggregate: Handles<C, Error = E>,
        E: Send,
    {
        self.dispatch_with(command, Metadata::default())
    }

    /// Runs `command` with causal metadata (correlation, causation, actor, headers).
    pub fn dispatch_with<C, E>(
        &self,
        command: C,
        metadata: Metadata,
    ) -> Dispatched<'_, C::Aggregate, E>
    where
        C: Command,
        C::Aggregate: Handles<C, Error = E>,
        E: Send,
    {
        self.dispatch_expecting(command, metadata, ExpectedVersion::Any)
    }

    /// Runs `command` only if its aggregate's stream is at `expected`, with
    /// no retry on a conflict (see [`Repository::execute_expecting`]): for
    /// callers that decided on a version they read, such as an HTTP request
    /// with `If-Match`.
    pub fn dispatch_expecting<C, E>(
        &self,
        command: C,
        metadata: Metadata,
        expected: ExpectedVersion,
    ) -> Dispatched<'_, C::Aggregate, E>
    where
        C: Command,
        C::Aggregate: Handles<C, Error = E>,
        E: Send,
    {
        // A future of a type that names no bound: a command whose aggregate
        // has no handler for it is reported once, at the argument, where an
        // `async fn` would report it again at the call and at `.await`.
        Box::pin(async move {
            let repository = self.repository::<C::Aggregate>();
            if self.interceptors.is_empty() {
                return repository
                    .execute_borrowed(&command, metadata, expected)
                    .await;
            }
            let aggregate_id = command.aggregate_id();
            let info = CommandInfo::new(&command, &aggregate_id);
            let mut metadata = metadata;
            for interceptor in self.interceptors.iter() {
                if let Err(reason) = interceptor.before(&info, &mut metadata).await {
                    return Err(CommandError::Failed(Error::Refused(Box::new(Refused {
                        command: C::NAME,
                        interceptor: interceptor.name(),
                        reason,
                    }))));
                }
            }
            let result = repository
                .execute_borrowed(&command, metadata.clone(), expected)
                .await;
            let names: Vec<&'static str> = match &result {
                Ok(done) => done.events.iter().map(EventSet::name).collect(),
                Err(_) => Vec::new(),
            };
            let outcome = match &result {
                Ok(done) => CommandOutcome::Done {
                    stream_id: &done.stream_id,
                    version: done.version,
                    events: &names,
                    appended: done.appended,
                },
                Err(CommandError::Rejected(_)) => CommandOutcome::Rejected,
                Err(CommandError::Failed(error)) => CommandOutcome::Failed(error),
            };
            for interceptor in self.interceptors.iter().rev() {
                interceptor.after(&info, &metadata, &outcome).await;
            }
            result
        })
    }
}
