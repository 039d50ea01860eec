//! The query bus: routes each query to the read model that answers it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::IntoFuture;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use futures::future::BoxFuture;

use super::live::{self, Subscription};
use super::{AnsweredBy, Query, QueryError, ReadModel};
use crate::error::Error;
use crate::projection::ProjectionRunner;
use crate::registry::Registry;

/// How long a read at a position waits for the projection by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Routes queries to the read models that answer them.
///
/// Read models are given to the bus once ([`QueryBus::with_read_model`]);
/// each query type finds its read model by type. With a runner
/// ([`QueryBus::with_runner`]) the bus can also wait for the projection
/// keeping a read model (reads at a position) and follow it (subscriptions).
/// Cloning is cheap: clones share the read models and the runner.
#[derive(Clone)]
pub struct QueryBus {
    models: Arc<HashMap<TypeId, Served>>,
    runner: Option<Arc<ProjectionRunner>>,
    timeout: Duration,
    live: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Served {
    model: Arc<dyn Any + Send + Sync>,
    /// The projection keeping it: its own, or the one it was given with.
    projection: Option<Arc<str>>,
}

impl std::fmt::Debug for QueryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryBus")
            .field("read_models", &self.models.len())
            .field("runner", &self.runner.is_some())
            .field("timeout", &self.timeout)
            .field("live_subscriptions", &self.live_subscriptions())
            .finish()
    }
}

impl QueryBus {
    /// A bus serving no read model yet, after checking the registry (which
    /// reports, among the rest, a query answered by two read models).
    pub fn new() -> Result<Self, Error> {
        Registry::global().validate().map_err(Box::new)?;
        Ok(Self {
            models: Arc::default(),
            runner: None,
            timeout: DEFAULT_TIMEOUT,
            live: Arc::default(),
        })
    }

    /// Serves the queries `model` answers; its projection is the one its
    /// `#[read_model(projection = ...)]` names.
    pub fn with_read_model<R: ReadModel>(self, model: R) -> Self {
        let projection = R::PROJECTION.map(Arc::from);
        self.serve(model, projection)
    }

    /// Serves the queries `model` answers, kept by projection `projection`
    /// (for a read model whose projection is chosen when the program starts,
    /// such as one per store).
    pub fn with_read_model_fed_by<R: ReadModel>(
        self,
        model: R,
        projection: impl Into<Arc<str>>,
    ) -> Self {
        self.serve(model, Some(projection.into()))
    }

    fn serve<R: ReadModel>(mut self, model: R, projection: Option<Arc<str>>) -> Self {
        let served = Served {
            model: Arc::new(model),
            projection,
        };
        Arc::make_mut(&mut self.models).insert(TypeId::of::<R>(), served);
        self
    }

    /// Follows projections in `runner`: reads at a position wait for them,
    /// subscriptions are woken by their commits.
    pub fn with_runner(mut self, runner: Arc<ProjectionRunner>) -> Self {
        self.runner = Some(runner);
        self
    }

    /// How long a read at a position waits for its projection unless the
    /// query says ([`QueryCall::within`]); 5 seconds by default.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many subscriptions are open: each one counts until its stream
    /// is dropped.
    pub fn live_subscriptions(&self) -> usize {
        self.live.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Asks `query` of the read model that answers it. Await the call for
    /// the answer, or say first which position it must reflect
    /// ([`QueryCall::at_least`]).
    pub fn query<Q, R>(&self, query: Q) -> QueryCall<'_, Q, R>
    where
        Q: AnsweredBy<R>,
        R: ReadModel,
    {
        QueryCall {
            bus: self,
            query,
            at_least: None,
            timeout: None,
            run: run::<Q, R>,
            read_model: PhantomData,
        }
    }

    /// Asks `query` now and again whenever the projection keeping its read
    /// model commits events that change the answer (a subscription query).
    ///
    /// The answers are compared with the last one sent, so only changes come
    /// out; the stream holds the latest answer only, so a slow consumer
    /// skips to the newest rather than falling behind, and it ends when
    /// dropped or when the projection stops.
    pub fn subscribe<Q, R>(
        &self,
        query: Q,
    ) -> BoxFuture<'_, Result<Subscription<Q::Result>, QueryError>>
    where
        Q: AnsweredBy<R>,
        R: ReadModel,
        Q::Result: PartialEq + Clone + Sync,
    {
        Box::pin(async move {
            let (model, projection) = self.served::<Q, R>()?;
            let projection = named::<Q>(projection)?;
            let runner = self.runner::<Q>()?;
            let committed = runner.committed(&projection)?;
            live::subscribe::<Q, R>(model, query, committed, self.live.clone()).await
        })
    }

    fn runner<Q: Query>(&self) -> Result<&ProjectionRunner, QueryError> {
        self.runner.as_deref().ok_or(QueryError::NoProjection {
            query: Q::NAME,
            reason: "the bus has no runner",
        })
    }

    /// The read model answering `Q`, and its projection.
    fn served<Q, R>(&self) -> Result<(Arc<R>, Option<Arc<str>>), QueryError>
    where
        Q: AnsweredBy<R>,
        R: ReadModel,
    {
        let not_served = || QueryError::NotServed {
            query: Q::NAME,
            read_model: std::any::type_name::<R>(),
        };
        let served = self.models.get(&TypeId::of::<R>()).ok_or_else(not_served)?;
        let model = served
            .model
            .clone()
            .downcast::<R>()
            .map_err(|_| not_served())?;
        Ok((model, served.projection.clone()))
    }
}

/// The projection behind the read model answering `Q`, which a read at a
/// position or a subscription needs.
fn named<Q: Query>(projection: Option<Arc<str>>) -> Result<Arc<str>, QueryError> {
    projection.ok_or(QueryError::NoProjection {
        query: Q::NAME,
        reason: "its read model names no projection",
    })
}

/// A query on its way: await it for the answer (see [`QueryBus::query`]).
#[must_use = "a query does nothing until awaited"]
pub struct QueryCall<'a, Q: Query, R> {
    bus: &'a QueryBus,
    query: Q,
    at_least: Option<u64>,
    timeout: Option<Duration>,
    /// Chosen where the query is made, so that awaiting the call names no
    /// bound: a query no handler answers is reported once, at the argument.
    run: Runner<'a, Q>,
    read_model: PhantomData<fn() -> R>,
}

type Runner<'a, Q> = fn(
    &'a QueryBus,
    Q,
    Option<u64>,
    Option<Duration>,
) -> BoxFuture<'a, Result<<Q as Query>::Result, QueryError>>;

impl<Q: Query, R> QueryCall<'_, Q, R> {
    /// Answers only once the projection keeping the read model has processed
    /// the log up to `position` (read-your-writes: the position a command's
    /// events were appended at). Fails with a timeout
    /// ([`QueryError::is_timeout`]) if it does not get there in time.
    pub fn at_least(mut self, position: u64) -> Self {
        self.at_least = Some(position);
        self
    }

    /// Like [`QueryCall::at_least`] with `Some`, nothing with `None`.
    pub fn at_least_opt(mut self, position: Option<u64>) -> Self {
        self.at_least = position;
        self
    }

    /// How long to wait for the position (the bus's timeout by default).
    pub fn within(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<'a, Q: Query, R> IntoFuture for QueryCall<'a, Q, R> {
    type Output = Result<Q::Result, QueryError>;
    type IntoFuture = BoxFuture<'a, Self::Output>;

    fn into_future(self) -> Self::IntoFuture {
        (self.run)(self.bus, self.query, self.at_least, self.timeout)
    }
}

/// Answers `query`, first waiting for `at_least` when asked to.
fn run<'a, Q, R>(
    bus: &'a QueryBus,
    query: Q,
    at_least: Option<u64>,
    timeout: Option<Duration>,
) -> BoxFuture<'a, Result<Q::Result, QueryError>>
where
    Q: AnsweredBy<R>,
    R: ReadModel,
{
    Box::pin(async move {
        let (model, projection) = bus.served::<Q, R>()?;
        if let Some(position) = at_least {
            let projection = named::<Q>(projection)?;
            let timeout = timeout.unwrap_or(bus.timeout);
            bus.runner::<Q>()?
                .wait_until(&projection, position, timeout)
                .await?;
        }
        live::ask(&*model, &query).await
    })
}
