//! Answering a query, once or live: a subscription re-asks its query each
//! time the projection keeping the read model commits, and passes on the
//! answers that changed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::BoxStream;

use super::{AnsweredBy, QueryError, ReadModel};
use crate::projection::CommittedPosition;

/// One answer of a subscription, with the position it reflects.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer<T> {
    /// The query's result.
    pub value: T,
    /// The projection's committed position when the query was asked (the
    /// answer reflects at least the log up to there); `None` before the
    /// projection committed anything.
    pub position: Option<u64>,
}

/// A subscription query: the answer when it started, and the answers that
/// follow (see [`QueryBus::subscribe`](super::QueryBus::subscribe)).
pub struct Subscription<T> {
    /// The answer when the subscription started.
    pub initial: Answer<T>,
    /// Each later answer that differs from the one before.
    pub updates: Updates<T>,
}

impl<T> std::fmt::Debug for Subscription<T>
where
    T: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("initial", &self.initial)
            .finish_non_exhaustive()
    }
}

/// The later answers of a subscription: a stream that yields an answer
/// each time it changed, holds only the newest one while nobody reads, and
/// ends when the projection stops. A failed query is yielded as an error
/// and the stream goes on; dropping it ends the subscription.
pub struct Updates<T> {
    inner: BoxStream<'static, Result<Answer<T>, QueryError>>,
}

impl<T> Stream for Updates<T> {
    type Item = Result<Answer<T>, QueryError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Asks `query` of `model` once.
pub(super) async fn ask<Q, R>(model: &R, query: &Q) -> Result<Q::Result, QueryError>
where
    Q: AnsweredBy<R>,
    R: ReadModel,
{
    Q::answer(model, query)
        .await
        .map_err(|source| QueryError::Handler {
            query: Q::NAME,
            source,
        })
}

/// Answers `query` now, then follows `committed`.
pub(super) async fn subscribe<Q, R>(
    model: Arc<R>,
    query: Q,
    mut committed: CommittedPosition,
    live: Arc<AtomicUsize>,
) -> Result<Subscription<Q::Result>, QueryError>
where
    Q: AnsweredBy<R>,
    R: ReadModel,
    Q::Result: PartialEq + Clone + Sync,
{
    let open = Open::new(live);
    // Seen before answering: a commit during the first answer wakes the
    // stream, so no change falls between the two.
    let position = committed.current();
    let value = ask(&*model, &query).await?;
    let initial = Answer {
        value: value.clone(),
        position,
    };
    let inner = async_stream::stream! {
        let _open = open;
        let mut last = value;
        while let Some(position) = committed.changed().await {
            match ask(&*model, &query).await {
                Ok(value) if value == last => {}
                Ok(value) => {
                    last = value.clone();
                    yield Ok(Answer { value, position });
                }
                Err(error) => yield Err(error),
            }
        }
    };
    Ok(Subscription {
        initial,
        updates: Updates {
            inner: Box::pin(inner),
        },
    })
}

/// Counts one open subscription while it lives.
struct Open(Arc<AtomicUsize>);

impl Open {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
