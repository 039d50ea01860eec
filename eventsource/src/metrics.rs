//! Metrics through the [`metrics`](https://docs.rs/metrics) facade.
//!
//! With the feature `metrics`, the runtime (and the PostgreSQL store)
//! report what an operator alerts on to whatever recorder the application
//! installed (`metrics-exporter-prometheus`, a StatsD exporter, …); with no
//! recorder installed they cost one check each. Without the feature the
//! calls compile to nothing. The names are the constants of this module.
//!
//! | name | kind | unit | labels | what |
//! |---|---|---|---|---|
//! | `eventsource_commands_total` | counter | commands | `aggregate`, `command`, `outcome` | commands run to an end; `outcome` is `ok`, `rejected` (the handler said no), `conflict` (retries ran out, or the caller's expected version was stale) or `error` (not found, already exists, store or encoding failure) |
//! | `eventsource_command_conflicts_total` | counter | conflicts | `aggregate` | version conflicts met by an attempt, retried or not |
//! | `eventsource_command_retries_total` | counter | attempts | `aggregate` | attempts run again after a conflict |
//! | `eventsource_append_duration_seconds` | histogram | seconds | `aggregate` | time of a command's append to the store, failed ones included |
//! | `eventsource_append_batch_size` | histogram | events | `aggregate` | events in one append |
//! | `eventsource_events_appended_total` | counter | events | `aggregate` | events a command appended |
//! | `eventsource_projection_lag_events` | gauge | positions | `projection` | the store's head position less the projection's checkpoint, after each batch (global positions may have gaps, so this is at least the events left) |
//! | `eventsource_projection_lag_seconds` | gauge | seconds | `projection` | age of the last event handled when its batch committed; 0 once caught up |
//! | `eventsource_events_parked_total` | counter | events | `projection`, `reason` | events parked as dead letters; `reason` is `failed` (the handler kept failing) or `corrupt` (the record cannot be read) |
//! | `eventsource_lease_changes_total` | counter | changes | `projection`, `change` | a runner instance's lease on a projection: `acquired`, `lost` (taken by another instance) or `released` |
//! | `eventsource_subscription_reconnects_total` | counter | reconnects | `source` | subscriptions resumed after a store failure; `source` is the projection's name for the runner's restarts, `postgresql` for the PostgreSQL store's own (a subscription's query retried, or its `LISTEN` connection opened again) |
//!
//! Names follow the Prometheus conventions (unit as a suffix, `_total` on
//! counters); each is also described, with its unit, to the recorder once.
//!
//! ```
//! use eventsource::metrics;
//!
//! assert!(metrics::ALL.contains(&metrics::COMMANDS));
//! assert_eq!(metrics::ALL.len(), 11);
//! ```

/// Commands run to an end, by `aggregate`, `command` and `outcome`.
pub const COMMANDS: &str = "eventsource_commands_total";
/// Version conflicts met by command attempts, by `aggregate`.
pub const CONFLICTS: &str = "eventsource_command_conflicts_total";
/// Command attempts run again after a conflict, by `aggregate`.
pub const RETRIES: &str = "eventsource_command_retries_total";
/// Seconds a command's append took, by `aggregate`.
pub const APPEND_DURATION: &str = "eventsource_append_duration_seconds";
/// Events in one append, by `aggregate`.
pub const APPEND_BATCH_SIZE: &str = "eventsource_append_batch_size";
/// Events appended by commands, by `aggregate`.
pub const EVENTS_APPENDED: &str = "eventsource_events_appended_total";
/// Positions between the store's head and a projection's checkpoint, by `projection`.
pub const PROJECTION_LAG_EVENTS: &str = "eventsource_projection_lag_events";
/// Age in seconds of the last event a projection handled, by `projection`.
pub const PROJECTION_LAG_SECONDS: &str = "eventsource_projection_lag_seconds";
/// Events parked as dead letters, by `projection` and `reason`.
pub const EVENTS_PARKED: &str = "eventsource_events_parked_total";
/// Lease changes of a runner instance, by `projection` and `change`.
pub const LEASE_CHANGES: &str = "eventsource_lease_changes_total";
/// Subscriptions resumed after a store failure, by `source`.
pub const SUBSCRIPTION_RECONNECTS: &str = "eventsource_subscription_reconnects_total";

/// Every metric name above, in the table's order.
pub const ALL: [&str; 11] = [
    COMMANDS,
    CONFLICTS,
    RETRIES,
    APPEND_DURATION,
    APPEND_BATCH_SIZE,
    EVENTS_APPENDED,
    PROJECTION_LAG_EVENTS,
    PROJECTION_LAG_SECONDS,
    EVENTS_PARKED,
    LEASE_CHANGES,
    SUBSCRIPTION_RECONNECTS,
];

/// How a command ended, for [`COMMANDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Its events, if any, were appended.
    Ok,
    /// The handler rejected it.
    Rejected,
    /// A version conflict it did not get past.
    Conflict,
    /// Any other failure.
    Error,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Conflict => "conflict",
            Self::Error => "error",
        }
    }
}

/// A change of a projection lease, for [`LEASE_CHANGES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseChange {
    /// This instance took the lease.
    Acquired,
    /// Another instance took it from this one.
    Lost,
    /// This instance gave it up.
    Released,
}

impl LeaseChange {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Acquired => "acquired",
            Self::Lost => "lost",
            Self::Released => "released",
        }
    }
}

/// Records that a command on `aggregate` ended with `outcome`.
#[inline]
pub fn command_ended(aggregate: &'static str, command: &'static str, outcome: Outcome) {
    #[cfg(feature = "metrics")]
    {
        describe();
        ::metrics::counter!(COMMANDS, "aggregate" => aggregate, "command" => command, "outcome" => outcome.as_str())
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (aggregate, command, outcome);
}

/// Records a version conflict met by a command on `aggregate`, and whether
/// the command runs again.
#[inline]
pub fn conflict(aggregate: &'static str, retried: bool) {
    #[cfg(feature = "metrics")]
    {
        describe();
        ::metrics::counter!(CONFLICTS, "aggregate" => aggregate).increment(1);
        if retried {
            ::metrics::counter!(RETRIES, "aggregate" => aggregate).increment(1);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (aggregate, retried);
}

/// Records an append of `events` events by a command on `aggregate`,
/// which took `took` and succeeded or not.
#[inline]
pub fn appended(aggregate: &'static str, events: usize, took: std::time::Duration, ok: bool) {
    #[cfg(feature = "metrics")]
    {
        describe();
        ::metrics::histogram!(APPEND_DURATION, "aggregate" => aggregate).record(took.as_secs_f64());
        ::metrics::histogram!(APPEND_BATCH_SIZE, "aggregate" => aggregate).record(events as f64);
        if ok {
            ::metrics::counter!(EVENTS_APPENDED, "aggregate" => aggregate).increment(events as u64);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (aggregate, events, took, ok);
}

/// Records how far `projection` is behind: `events` positions and
/// `seconds` of age.
#[inline]
pub fn projection_lag(projection: &'static str, events: u64, seconds: f64) {
    #[cfg(feature = "metrics")]
    {
        describe();
        ::metrics::gauge!(PROJECTION_LAG_EVENTS, "projection" => projection).set(events as f64);
        ::metrics::gauge!(PROJECTION_LAG_SECONDS, "projection" => projection).set(seconds);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (projection, events, seconds);
}

/// Records an event `projection` parked, for `reason` (`failed` or `corrupt`).
#[inline]
pub fn parked(projection: &'static str, reason: &'static str) {
    #[cfg(feature = "metrics")]
    {
        describe();
        ::metrics::counter!(EVENTS_PARKED, "projection" => projection, "reason" => reason)
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (projection, reason);
}

/// Records a change of this instance's lease on `projection`.
#[inline]
pub fn lease_changed(projection: &'static str, change: LeaseChange) {
    #[cfg(feature = "metrics")]
    {
        describe();
        ::metrics::counter!(LEASE_CHANGES, "projection" => projection, "change" => change.as_str())
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (projection, change);
}

/// Records a subscription of `source` resumed after a store failure.
#[inline]
pub fn subscription_reconnected(source: &'static str) {
    #[cfg(feature = "metrics")]
    {
        describe();
        ::metrics::counter!(SUBSCRIPTION_RECONNECTS, "source" => source).increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = source;
}

/// Describes every metric to the recorder, once per process; a recorder
/// installed later misses the descriptions, not the values.
#[cfg(feature = "metrics")]
fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        describe_counter!(COMMANDS, Unit::Count, "Commands run to an end, by outcome.");
        describe_counter!(
            CONFLICTS,
            Unit::Count,
            "Version conflicts met by command attempts."
        );
        describe_counter!(
            RETRIES,
            Unit::Count,
            "Command attempts run again after a conflict."
        );
        describe_histogram!(
            APPEND_DURATION,
            Unit::Seconds,
            "Time of a command's append."
        );
        describe_histogram!(APPEND_BATCH_SIZE, Unit::Count, "Events in one append.");
        describe_counter!(EVENTS_APPENDED, Unit::Count, "Events appended by commands.");
        describe_gauge!(
            PROJECTION_LAG_EVENTS,
            Unit::Count,
            "Positions between the store's head and the projection's checkpoint."
        );
        describe_gauge!(
            PROJECTION_LAG_SECONDS,
            Unit::Seconds,
            "Age of the last event the projection handled."
        );
        describe_counter!(EVENTS_PARKED, Unit::Count, "Events parked as dead letters.");
        describe_counter!(
            LEASE_CHANGES,
            Unit::Count,
            "Projection lease changes of this instance."
        );
        describe_counter!(
            SUBSCRIPTION_RECONNECTS,
            Unit::Count,
            "Subscriptions resumed after a store failure."
        );
    });
}
