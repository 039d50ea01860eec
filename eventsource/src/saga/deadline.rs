//! Saga deadlines: a saga instance asks to be called back at a time, unless
//! it cancels the request first (typically when the event it waited for
//! arrives).
//!
//! A handler schedules with [`SagaContext::schedule_at`] or
//! [`SagaContext::schedule_after`](super::SagaContext::schedule_after) and
//! cancels with [`SagaContext::cancel_deadline`](super::SagaContext::cancel_deadline);
//! the processor stores the requests in its [`DeadlineStore`] once the
//! handler succeeded. When one falls due, a
//! [`DeadlineScheduler`](super::DeadlineScheduler) appends a
//! [`DeadlineReached`] event carrying the instance's correlation id, so the
//! saga handles it like any other event (`fn on_deadline(&mut self, e:
//! &DeadlineReached, ctx: &mut SagaContext<'_>)`): it goes through the log,
//! survives restarts and is delivered at least once.
//!
//! [`SagaContext::schedule_at`]: super::SagaContext::schedule_at

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::Event;
use crate::store::StoreError;

/// The event a saga receives when one of its deadlines falls due.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineReached {
    /// The saga that scheduled it.
    pub saga: String,
    /// The deadline's name, as scheduled.
    pub name: String,
    /// When it was due (it may be handled later, never earlier).
    pub due_at: DateTime<Utc>,
    /// The JSON payload given when scheduling (`null` when none).
    pub payload: serde_json::Value,
}

impl Event for DeadlineReached {
    const NAME: &'static str = "eventsource.DeadlineReached";
    const VERSION: u32 = 1;
    const ALIASES: &'static [&'static str] = &[];
}

// Registered like a derived event, so sagas may handle it and the registry
// knows its name.
inventory::submit! {
    crate::registry::EventRegistration::new(
        <DeadlineReached as Event>::NAME,
        <DeadlineReached as Event>::VERSION,
        <DeadlineReached as Event>::ALIASES,
        concat!(module_path!(), "::DeadlineReached"),
    )
}

/// When a deadline falls due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Due {
    /// At this time.
    At(DateTime<Utc>),
    /// This long after the event being handled is processed (by the
    /// processor's clock).
    After(Duration),
}

/// What a handler asked about deadlines, applied after it succeeded.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DeadlineRequest {
    /// Schedule (or reschedule) deadline `name` of the instance.
    Schedule {
        /// The deadline's name, unique within the instance.
        name: String,
        /// When it falls due.
        due: Due,
        /// Handed back in [`DeadlineReached::payload`].
        payload: serde_json::Value,
    },
    /// Cancel deadline `name` of the instance, if it has not fired.
    Cancel {
        /// The deadline's name.
        name: String,
    },
}

/// A deadline as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Deadline {
    /// Its id: the id of the [`DeadlineReached`] event it fires, so firing
    /// twice stores the event once.
    pub id: Uuid,
    /// The saga.
    pub saga: String,
    /// The instance.
    pub correlation_id: Uuid,
    /// The name, unique within the instance.
    pub name: String,
    /// When it falls due.
    pub due_at: DateTime<Utc>,
    /// The payload, as JSON text.
    pub payload: String,
}

/// Where deadlines are kept until they fire: the saga store's backend.
///
/// Implementations must let only one claimer hold a deadline at a time (a
/// lease until `until`), keep a fired deadline's claim from being taken
/// again until it is removed, and return deadlines due at or before `now`,
/// earliest first, including long-overdue ones.
#[async_trait]
pub trait DeadlineStore: Send + Sync + 'static {
    /// Stores `deadline`, replacing one of the same saga, instance and name.
    async fn schedule(&self, deadline: Deadline) -> Result<(), StoreError>;

    /// Removes deadline `name` of an instance; whether there was one.
    async fn cancel(
        &self,
        saga: &str,
        correlation_id: Uuid,
        name: &str,
    ) -> Result<bool, StoreError>;

    /// Claims up to `limit` deadlines due at `now` and not claimed (or
    /// whose claim ended), for `owner` until `until`.
    async fn claim_due(
        &self,
        now: DateTime<Utc>,
        owner: Uuid,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Deadline>, StoreError>;

    /// Removes deadline `id` once its event is stored.
    async fn fired(&self, id: Uuid) -> Result<(), StoreError>;

    /// The deadlines of `saga` still to fire, earliest first.
    async fn pending(&self, saga: &str) -> Result<Vec<Deadline>, StoreError>;
}
