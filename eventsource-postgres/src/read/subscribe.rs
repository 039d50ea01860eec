//! Live subscriptions: catch up below the horizon, report, wait, repeat.
//!
//! Each round reads every event after the last delivered one and below the
//! current horizon (which the crate docs prove final), emits `CaughtUp` with
//! the last position covered, then waits for one of:
//! - an append through this store instance, or a `NOTIFY` from another
//!   process (both bump the store's wake counter);
//! - a short, doubling re-check while committed events sit above the horizon
//!   behind an older open transaction: waiting for that transaction, never
//!   skipping past it;
//! - the polling interval, as a safety net for lost notifications.
//!
//! While events wait above a horizon that does not move, `stall` names the
//! transaction holding it, once per stall.
//!
//! A failed query (a dropped connection, a restarted server) does not end
//! the subscription: it retries with backoff from the last delivered
//! position, so nothing is lost or repeated. Only
//! [`PgStoreOptions::with_reconnect_limit`](crate::PgStoreOptions::with_reconnect_limit)
//! failures in a row, or an error that is not about the connection, end it
//! with that error.

use std::sync::Arc;
use std::time::Duration;

use eventsource::StoreError;
use eventsource::store::{EventFilter, Subscription, SubscriptionItem};
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use super::horizon_stall::Stall;
use super::prefetch::{self, Handed};
use super::{Reads, horizon, start_after};
use crate::error::store_error;
use crate::row::Unreadable;
use eventsource::backoff::{Backoff, Delays};

/// What to do after a failed round.
enum Failure {
    Retry(Duration),
    GiveUp(StoreError),
}

struct Retries {
    limit: Option<u32>,
    failures: u32,
    backoff: Delays,
}

impl Retries {
    fn new(limit: Option<u32>) -> Self {
        Self {
            limit,
            failures: 0,
            backoff: Backoff::new(Duration::from_millis(20), Duration::from_secs(5)).delays(),
        }
    }

    fn failed(&mut self, err: StoreError) -> Failure {
        if !matches!(err, StoreError::Connection(_)) && !crate::replica::recovery_conflict(&err) {
            return Failure::GiveUp(err);
        }
        self.failures += 1;
        if self.limit.is_some_and(|limit| self.failures > limit) {
            return Failure::GiveUp(err);
        }
        let delay = self.backoff.next_delay();
        eventsource::metrics::subscription_reconnected("postgresql");
        tracing::warn!(
            error = %err,
            attempt = self.failures,
            ?delay,
            "subscription lost the database; retrying from its last position"
        );
        Failure::Retry(delay)
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        self.backoff.reset();
    }
}

/// A live subscription holds one connection of the pool for `LISTEN` while
/// it lives. In a pool of one that is every connection: its own reads, and
/// every append of the process, would wait for a connection forever. Such
/// a subscription is refused at once rather than hang in silence.
fn too_small_for_listen(reads: &Reads) -> Option<StoreError> {
    // LISTEN runs on the primary, also when the rows come from a standby.
    let size = reads.primary.options().get_max_connections();
    (reads.options.notify_channel().is_some() && size < 2).then(|| {
        StoreError::invalid(format!(
            "a live subscription keeps one connection of the pool for LISTEN, and this \
             store's pool has at most {size}: reads and appends would wait forever; give the \
             pool at least 2 connections, or turn notifications off with \
             `PgStoreOptions::with_notify_channel(None)`"
        ))
    })
}

/// A connection for one round, and the horizon and head found on it.
async fn open_round(
    reads: &Reads,
) -> Result<(PoolConnection<Postgres>, i64, Option<i64>), StoreError> {
    let mut conn = reads.pool.acquire().await.map_err(store_error)?;
    let (before, head) = horizon(reads, &mut conn).await?;
    Ok((conn, before, head))
}

pub(crate) fn subscribe(
    reads: Arc<Reads>,
    from_position: u64,
    filter: EventFilter,
) -> Subscription {
    Box::pin(async_stream::stream! {
        if let Some(refused) = too_small_for_listen(&reads) {
            yield Err(refused);
            return;
        }
        // Nothing can be stored beyond bigint: the subscription stays idle.
        let mut after = start_after(from_position).unwrap_or(i64::MAX);
        let mut wake = reads.notifications.subscribe(&reads.primary);
        let mut recheck = Backoff::new(Duration::from_millis(1), reads.options.recheck_max()).delays();
        let mut retries = Retries::new(reads.options.reconnect_limit());
        let mut reported = None;
        let mut stall = Stall::new("subscription", reads.options.stall_warning());
        // Re-checks left after a wake-up, on a standby (see `replica`).
        let mut chase = 0u32;
        loop {
            // Marked seen before reading: an append that commits during the
            // read bumps the counter again and triggers another round.
            wake.borrow_and_update();
            let mut failed = None;
            let mut pending = false;
            // The horizon and the rows below it on one connection, so on one
            // server in one state or later (see `horizon`).
            match open_round(&reads).await {
                Err(err) => failed = Some(err),
                Ok((conn, before, head)) => {
                    if before > after.saturating_add(1) {
                        // Read a page ahead, on the round's connection (see `prefetch`).
                        let mut pages = prefetch::read_round(
                            reads.clone(),
                            filter.clone(),
                            conn,
                            after,
                            before,
                        );
                        loop {
                            match pages.next().await {
                                Some(Handed::Rows(rows)) => {
                                    for decoded in rows {
                                        match decoded {
                                            Ok(event) => {
                                                after = i64::try_from(event.global_position).unwrap_or(i64::MAX);
                                                yield Ok(SubscriptionItem::Event(event));
                                            }
                                            // A record that is there but unreadable takes its
                                            // place in the log; the subscription goes on.
                                            Err(Unreadable::Corrupt(record)) if record.global_position > 0 => {
                                                after = i64::try_from(record.global_position).unwrap_or(i64::MAX);
                                                yield Ok(SubscriptionItem::Corrupt(record));
                                            }
                                            Err(other) => {
                                                failed = Some(other.into_store_error());
                                                break;
                                            }
                                        }
                                    }
                                    if failed.is_some() {
                                        break;
                                    }
                                }
                                Some(Handed::Done) => break,
                                None => {
                                    failed = Some(prefetch::reader_gone());
                                    break;
                                }
                            }
                        }
                        if failed.is_none() {
                            after = before - 1;
                        }
                    } else {
                        drop(conn);
                    }
                    pending = head.is_some_and(|h| h >= before);
                    stall.observe(&reads.probe(), before, head).await;
                }
            }
            if let Some(err) = failed {
                match retries.failed(err) {
                    Failure::Retry(delay) => {
                        reads.options.clock().sleep(delay).await;
                        continue;
                    }
                    Failure::GiveUp(err) => {
                        yield Err(err);
                        return;
                    }
                }
            }
            retries.succeeded();
            if reported != Some(after) {
                reported = Some(after);
                let position = u64::try_from(after).unwrap_or(0);
                yield Ok(SubscriptionItem::CaughtUp { position });
            }
            let wait = if pending || chase > 0 {
                chase = chase.saturating_sub(1);
                recheck.next_delay()
            } else {
                recheck.reset();
                reads.options.poll_interval()
            };
            let woken = tokio::select! {
                // The sender lives in `reads`, which this stream holds.
                _ = wake.changed() => true,
                () = reads.options.clock().sleep(wait) => false,
            };
            if woken && reads.on_replica {
                // The primary announced commits the standby may not have
                // applied yet: look again soon, for about a second.
                chase = crate::replica::CHASE_ROUNDS;
                recheck.reset();
            }
        }
    })
}
