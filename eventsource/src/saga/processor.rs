//! Runs a saga as a projection: route each event to its instance, persist.

use std::marker::PhantomData;
use std::sync::Arc;

use async_trait::async_trait;

use super::context::{SagaContext, correlation_of};
use super::deadline::{Deadline, DeadlineRequest, DeadlineStore, Due};
use super::{Saga, SagaInstance, SagaStore};
use crate::clock::Clock;
use crate::command::CommandBus;
use crate::event::RecordedEvent;
use crate::projection::{Projection, ProjectionError};

/// Adapts a [`Saga`] to the [`ProjectionRunner`](crate::projection::ProjectionRunner),
/// which gives it checkpoints, retries, parking and leases.
///
/// For each event: load the instance of the event's correlation id (or start
/// one if the event is a `#[start]` event), run the handler, save the state.
pub struct SagaProcessor<S: Saga> {
    bus: CommandBus,
    store: Arc<dyn SagaStore>,
    deadlines: Option<Arc<dyn DeadlineStore>>,
    clock: Clock,
    _saga: PhantomData<fn() -> S>,
}

impl<S: Saga> SagaProcessor<S> {
    /// A processor dispatching through `bus` and keeping instances in `store`.
    pub fn new(bus: CommandBus, store: impl SagaStore) -> Self {
        Self::shared(bus, Arc::new(store))
    }

    /// Like [`SagaProcessor::new`], with a shared store.
    pub fn shared(bus: CommandBus, store: Arc<dyn SagaStore>) -> Self {
        Self {
            bus,
            store,
            deadlines: None,
            clock: Clock::current(),
            _saga: PhantomData,
        }
    }
}

impl<S: Saga> SagaProcessor<S> {
    /// Stamps saved instances with `clock`'s time (by default the ambient
    /// clock when the processor was built: see [`Clock::current`]). The
    /// commands it dispatches take their ids from the bus's clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

impl<S: Saga> std::fmt::Debug for SagaProcessor<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SagaProcessor")
            .field("saga", &S::NAME)
            .finish()
    }
}

#[async_trait]
impl<S: Saga> Projection for SagaProcessor<S> {
    const NAME: &'static str = S::NAME;
    const EVENTS: &'static [&'static str] = S::EVENTS;
    const TRANSACTIONAL: bool = false;
    // Replaying a saga would dispatch every command again.
    const RESETS: bool = false;
    const PARTITIONS: u32 = S::PARTITIONS;
    type Context = ();

    async fn handle(
        &mut self,
        record: &RecordedEvent,
        _: &mut (),
    ) -> Result<bool, ProjectionError> {
        let correlation = correlation_of(record);
        let stored = self
            .store
            .load(S::NAME, correlation)
            .await
            .map_err(ProjectionError::handler)?;
        let mut state: S = match stored {
            Some(instance) if instance.completed => return Ok(false),
            Some(instance) => serde_json::from_str(&instance.state).map_err(|e| {
                ProjectionError::handler(format!(
                    "the state of saga `{}` instance {correlation} does not decode: {e}",
                    S::NAME
                ))
            })?,
            None if S::starts(record) => S::default(),
            None => return Ok(false),
        };
        let mut context = SagaContext::new(&self.bus, record, S::NAME, S::DISPATCHES);
        let handled = state.handle(record, &mut context).await?;
        let requests = context.take_deadline_requests();
        self.apply_deadlines(correlation, requests).await?;
        let encoded = serde_json::to_string(&state).map_err(ProjectionError::handler)?;
        self.store
            .save(
                S::NAME,
                correlation,
                SagaInstance {
                    state: encoded,
                    completed: context.is_completed(),
                    updated_at: self.clock.now(),
                },
            )
            .await
            .map_err(ProjectionError::handler)?;
        Ok(handled)
    }

    async fn reset(&mut self, _: &mut ()) -> Result<(), ProjectionError> {
        Err(ProjectionError::handler(format!(
            "saga `{}` cannot be rebuilt: replaying it would dispatch its commands again",
            S::NAME
        )))
    }
}

impl<S: Saga> SagaProcessor<S> {
    /// Keeps the deadlines the saga schedules in `deadlines` (the saga
    /// store's backend: `InMemorySagaStore`, `PgSagaStore`). Without one, a
    /// handler that schedules a deadline fails.
    pub fn with_deadlines(mut self, deadlines: impl DeadlineStore) -> Self {
        self.deadlines = Some(Arc::new(deadlines));
        self
    }

    /// Stores what a handler asked about deadlines, in order.
    async fn apply_deadlines(
        &self,
        correlation: uuid::Uuid,
        requests: Vec<DeadlineRequest>,
    ) -> Result<(), ProjectionError> {
        if requests.is_empty() {
            return Ok(());
        }
        let Some(deadlines) = &self.deadlines else {
            return Err(ProjectionError::handler(format!(
                "saga `{}` scheduled or cancelled a deadline, but its processor has no \
                 deadline store: add one with `SagaProcessor::with_deadlines`",
                S::NAME
            )));
        };
        for request in requests {
            match request {
                DeadlineRequest::Schedule { name, due, payload } => {
                    let due_at = match due {
                        Due::At(at) => at,
                        Due::After(after) => {
                            let after = chrono::Duration::from_std(after).map_err(|_| {
                                ProjectionError::handler(format!(
                                    "deadline `{name}` of saga `{}` is too far away",
                                    S::NAME
                                ))
                            })?;
                            self.clock.now() + after
                        }
                    };
                    let deadline = Deadline {
                        id: self.clock.uuid_v7(),
                        saga: S::NAME.to_owned(),
                        correlation_id: correlation,
                        name,
                        due_at,
                        payload: payload.to_string(),
                    };
                    deadlines
                        .schedule(deadline)
                        .await
                        .map_err(ProjectionError::handler)?;
                }
                DeadlineRequest::Cancel { name } => {
                    deadlines
                        .cancel(S::NAME, correlation, &name)
                        .await
                        .map_err(ProjectionError::handler)?;
                }
            }
        }
        Ok(())
    }
}
