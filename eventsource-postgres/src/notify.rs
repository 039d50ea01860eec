//! Waking subscribers: in this process, and in others through `LISTEN/NOTIFY`.
//!
//! Subscriptions of one store instance wait on a shared `watch` counter. It
//! is bumped by appends made through this instance, by a background task
//! that `LISTEN`s on the store's channel (for appends made by other
//! processes), and whenever that task reconnects, since notifications sent
//! while it was away are lost.
//!
//! `NOTIFY` is never sent inside the append's transaction: before
//! PostgreSQL 17 a notifying transaction holds a database-wide lock from its
//! `NOTIFY` through its commit, which would serialise every append's commit.
//! Instead a background task sends one `pg_notify` per burst of appends, on
//! its own short transaction after they committed, and at most one per
//! [`NOTIFY_INTERVAL`]: the first append of a burst is announced at once,
//! later ones together when the interval is over. Each notifying transaction
//! takes a transaction id and writes a commit record that the WAL writer must
//! flush, so one per append would add a disk flush per append. A lost
//! notification costs latency only: subscribers also poll.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use eventsource::backoff::Backoff;
use eventsource::clock::Clock;

use crate::schema::Identifier;

/// The wake-ups of one store's subscribers (and its clones').
#[derive(Debug)]
pub(crate) struct Notifications {
    counter: watch::Sender<u64>,
    channel: Option<Identifier>,
    listener: Arc<Mutex<Option<JoinHandle<()>>>>,
    outbound: Arc<Notify>,
    notifier: Mutex<Option<JoinHandle<()>>>,
    closed: Arc<AtomicBool>,
    clock: Clock,
}

impl Notifications {
    pub(crate) fn new(channel: Option<Identifier>, clock: Clock) -> Self {
        Self {
            counter: watch::Sender::new(0),
            channel,
            listener: Arc::new(Mutex::new(None)),
            outbound: Arc::new(Notify::new()),
            notifier: Mutex::new(None),
            closed: Arc::new(AtomicBool::new(false)),
            clock,
        }
    }

    /// Wakes this instance's subscribers, and other processes' through `NOTIFY`.
    pub(crate) fn committed(&self, pool: &PgPool) {
        self.wake_local();
        let Some(channel) = &self.channel else {
            return;
        };
        let mut task = lock(&self.notifier);
        if task.as_ref().is_none_or(JoinHandle::is_finished) {
            // No runtime (the caller polled us from elsewhere): other
            // processes will find the events by polling.
            let Ok(runtime) = tokio::runtime::Handle::try_current() else {
                return;
            };
            *task = Some(runtime.spawn(notifier(
                pool.clone(),
                channel.clone(),
                self.outbound.clone(),
                self.closed.clone(),
                self.clock.clone(),
            )));
        }
        drop(task);
        // Stores at most one permit: a burst of appends sends one NOTIFY.
        self.outbound.notify_one();
    }

    /// Wakes this instance's subscribers only.
    pub(crate) fn wake_local(&self) {
        self.counter.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver for a new subscription; starts the `LISTEN` task if none runs.
    pub(crate) fn subscribe(&self, pool: &PgPool) -> watch::Receiver<u64> {
        let mut task = lock(&self.listener);
        // Subscribed under the lock: a listener stopping for lack of
        // receivers checks again under it and clears the slot before it
        // goes, so either it sees this receiver or we see an empty slot.
        let receiver = self.counter.subscribe();
        if let Some(channel) = &self.channel
            && task.as_ref().is_none_or(JoinHandle::is_finished)
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            *task = Some(runtime.spawn(listener(
                pool.clone(),
                channel.clone(),
                self.counter.clone(),
                self.listener.clone(),
                self.clock.clone(),
            )));
        }
        receiver
    }
}

impl Drop for Notifications {
    fn drop(&mut self) {
        // Lets the notifier task see the store is gone and release its pool.
        self.closed.store(true, Ordering::Release);
        self.outbound.notify_one();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data is a task handle; a panic elsewhere cannot corrupt it.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The least time between two `NOTIFY`s of one store: appends committed
/// meanwhile are announced together at its end.
pub(crate) const NOTIFY_INTERVAL: Duration = Duration::from_millis(5);

/// Sends one `pg_notify` per wake-up, at most one per [`NOTIFY_INTERVAL`],
/// until the store is dropped.
async fn notifier(
    pool: PgPool,
    channel: Identifier,
    wake: Arc<Notify>,
    closed: Arc<AtomicBool>,
    clock: Clock,
) {
    let mut last: Option<tokio::time::Instant> = None;
    loop {
        wake.notified().await;
        if let Some(at) = last {
            // Appends that commit while we wait are announced by the NOTIFY
            // sent after the wait (they may also leave a permit, costing one
            // more NOTIFY an interval later, never a lost one).
            clock.sleep_until(at + NOTIFY_INTERVAL).await;
        }
        if closed.load(Ordering::Acquire) {
            return;
        }
        // The notifying transaction carries nothing durable: commit it
        // without waiting for the disk (a crash loses notifications anyway).
        let sent =
            sqlx::query("SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')")
                .bind(channel.as_str())
                .execute(&pool)
                .await;
        if let Err(err) = sent {
            tracing::debug!(%channel, error = %err, "NOTIFY failed; other processes will poll");
        }
        last = Some(clock.instant());
    }
}

type Slot = Arc<Mutex<Option<JoinHandle<()>>>>;

/// Whether the listener may stop: no subscription left. Clears its own slot
/// under the lock, so a subscription arriving now starts a new listener.
fn may_stop(counter: &watch::Sender<u64>, slot: &Slot) -> bool {
    let mut task = lock(slot);
    if counter.receiver_count() > 0 {
        return false;
    }
    *task = None;
    true
}

/// Bumps `counter` on every notification until no subscription is left.
async fn listener(
    pool: PgPool,
    channel: Identifier,
    counter: watch::Sender<u64>,
    slot: Slot,
    clock: Clock,
) {
    let bump = || counter.send_modify(|n| *n = n.wrapping_add(1));
    let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5)).delays();
    loop {
        if counter.receiver_count() == 0 && may_stop(&counter, &slot) {
            return;
        }
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(channel.as_str()).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            () = counter.closed() => continue,
            connected = connected => match connected {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(%channel, error = %err, "LISTEN failed; subscribers poll until it reconnects");
                    tokio::select! {
                        () = counter.closed() => {}
                        () = clock.sleep(backoff.next_delay()) => {}
                    }
                    continue;
                }
            },
        };
        backoff.reset();
        // Notifications sent while we were not listening are lost: re-check.
        bump();
        loop {
            tokio::select! {
                () = counter.closed() => {
                    if may_stop(&counter, &slot) {
                        return;
                    }
                }
                received = listener.try_recv() => match received {
                    Ok(Some(_)) => bump(),
                    // The connection dropped; the next call reconnects and
                    // re-listens, but what was sent meanwhile is lost.
                    Ok(None) => {
                        eventsource::metrics::subscription_reconnected("postgresql");
                        bump();
                    }
                    Err(err) => {
                        tracing::warn!(%channel, error = %err, "LISTEN connection failed; reconnecting");
                        eventsource::metrics::subscription_reconnected("postgresql");
                        bump();
                        break;
                    }
                },
            }
        }
    }
}
