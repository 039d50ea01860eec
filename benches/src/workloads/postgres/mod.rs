//! Workloads 3, 4 and 5, on PostgreSQL, each against raw sqlx on the same
//! server in the same run, interleaved through `measure::compare` as the
//! in-memory workloads are.

pub(crate) mod append;
pub(crate) mod catchup;
pub(crate) mod group;
pub(crate) mod growth;
pub(crate) mod load;
pub(crate) mod partitions;
pub(crate) mod payload;
pub(crate) mod replica;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventsource::uuid::Uuid;
use eventsource::{Metadata, NewEvent};
use sqlx::AssertSqlSafe;
use tokio::runtime::Runtime;

use crate::domain::mix::{self, Schema, StoredEvent};
use crate::report::{Body, Section};

/// The columns an append writes, in the order the raw baselines bind them.
pub(crate) const INSERT_COLUMNS: &str = "global_position, transaction_id, stream_id, \
     aggregate_type, stream_version, event_id, event_name, schema_version, payload, metadata";

/// The account event mix (deposits, withdrawals, fees, limit changes) that
/// appends cycle through, as JSON text.
pub(crate) struct Mix {
    events: Vec<StoredEvent>,
}

impl Mix {
    pub(crate) fn new() -> Self {
        // Skip the opening: appends continue existing accounts.
        Self {
            events: mix::events(1_001, Schema::Current).split_off(1),
        }
    }

    /// These events, in a cycle from the first.
    pub(crate) fn from_events(events: Vec<StoredEvent>) -> Self {
        Self { events }
    }

    /// The `n`th event of the mix.
    pub(crate) fn get(&self, n: u64) -> &StoredEvent {
        &self.events[(n % self.events.len() as u64) as usize]
    }

    /// The `n`th event, ready for `EventStore::append`, with a command's
    /// correlation and causation ids.
    pub(crate) fn new_event(&self, n: u64, command_id: Uuid) -> NewEvent {
        self.get(n).to_new_event(command_id)
    }

    /// The same event as the raw baselines write it.
    pub(crate) fn raw(&self, n: u64, command_id: Uuid) -> RawEvent<'_> {
        let event = self.get(n);
        RawEvent {
            id: Uuid::now_v7(),
            name: event.name,
            version: event.version as i32,
            payload: &event.payload,
            metadata: metadata_text(command_id),
        }
    }
}

/// One row as the raw baselines insert it.
pub(crate) struct RawEvent<'a> {
    pub(crate) id: Uuid,
    pub(crate) name: &'static str,
    pub(crate) version: i32,
    pub(crate) payload: &'a str,
    pub(crate) metadata: String,
}

/// The metadata JSON the store writes for a command's events.
pub(crate) fn metadata_text(command_id: Uuid) -> String {
    let metadata = Metadata::new()
        .with_correlation_id(command_id)
        .with_causation_id(command_id);
    serde_json::to_string(&metadata).expect("metadata serializes")
}

/// A SQL statement built from fixed text and validated schema names.
#[derive(Clone)]
pub(crate) struct Sql(Arc<str>);

impl Sql {
    pub(crate) fn new(text: String) -> Self {
        Self(text.into())
    }

    pub(crate) fn get(&self) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(self.0.clone())
    }

    pub(crate) fn text(&self) -> &str {
        &self.0
    }
}

/// Runs `tasks` copies of `work` concurrently for at least `at_least`;
/// returns the units per second. `work(task, deadline)` returns its units.
pub(crate) fn concurrent<F, Fut>(rt: &Runtime, tasks: usize, at_least: Duration, work: F) -> f64
where
    F: Fn(usize, Instant) -> Fut,
    Fut: Future<Output = u64> + Send + 'static,
{
    rt.block_on(async {
        let start = Instant::now();
        let deadline = start + at_least;
        let handles: Vec<_> = (0..tasks)
            .map(|task| tokio::spawn(work(task, deadline)))
            .collect();
        let mut units = 0;
        for handle in handles {
            units += handle.await.expect("a writer task");
        }
        units as f64 / start.elapsed().as_secs_f64()
    })
}

/// The PostgreSQL sections when no server could be had, and why.
pub(crate) fn not_measured(why: &str) -> Vec<Section> {
    let why = format!("No PostgreSQL server: {why}.");
    vec![
        Section {
            number: "3",
            title: "PostgreSQL append",
            method: append::METHOD.into(),
            body: Body::NotMeasured(why.clone()),
        },
        Section {
            number: "4",
            title: "PostgreSQL load",
            method: load::METHOD.into(),
            body: Body::NotMeasured(why.clone()),
        },
        Section {
            number: "5",
            title: "Projection catch-up from PostgreSQL",
            method: catchup::METHOD.into(),
            body: Body::NotMeasured(why),
        },
    ]
}
