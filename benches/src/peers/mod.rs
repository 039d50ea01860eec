//! Workload 6: the same workloads on a peer framework, `cqrs-es`, and its
//! PostgreSQL event repository, `postgres-es`.

mod cqrs;
pub(crate) mod disintegrate;
mod postgres;

use std::hint::black_box;

use cqrs_es::EventStore as _;
use cqrs_es::persist::PersistedEventStore;
use eventsource::Repository;
use tokio::runtime::Runtime;

use crate::domain::Account;
use crate::measure::{Settings, compare, rate};
use crate::pg::Db;
use crate::report::{Body, Row, Section};
use crate::workloads::rehydration::{EVENTS, SCHEMAS, load_ours};
use crate::workloads::stream::{self, ACCOUNT};
use cqrs::{CqrsAccount, JsonRepository};

type CqrsStore = PersistedEventStore<JsonRepository, CqrsAccount>;

/// Rehydration of the workload-1 stream on `cqrs-es`, and appends and loads
/// on `postgres-es` (when a server is there), interleaved with ours.
pub(crate) fn run(
    rt: &Runtime,
    settings: &Settings,
    postgres: Result<(&Runtime, &Db), &str>,
) -> Section {
    let mut rows = Vec::new();
    for schema in SCHEMAS {
        let stored = stream::build(rt, EVENTS, schema);
        let repo = Repository::<Account>::new(stored.store.clone()).expect("a valid registry");
        let theirs =
            CqrsStore::new_event_store(JsonRepository::with_stream(ACCOUNT, &stored.events))
                .with_upcasters(cqrs::upcasters());
        let ours_state = load_ours(rt, &repo);
        let their_state = load_theirs(rt, &theirs);
        assert_eq!(
            (
                ours_state.balance,
                ours_state.deposits,
                ours_state.overdraft_limit
            ),
            (
                their_state.balance,
                their_state.deposits,
                their_state.overdraft_limit
            ),
            "eventsource and cqrs-es disagree"
        );
        let comparison = compare(
            settings.rounds,
            || {
                rate(settings.round_time, || {
                    black_box(load_ours(rt, &repo));
                    EVENTS as u64
                })
            },
            || {
                rate(settings.round_time, || {
                    black_box(load_theirs(rt, &theirs));
                    EVENTS as u64
                })
            },
        );
        rows.push(Row::new(
            format!("rehydration (workload 1), {}", schema.label()),
            "events/s",
            comparison,
        ));
    }
    let mut notes = vec![
        "cqrs-es loads through its `PersistedEventStore` (event-sourced mode, no \
         snapshot) from an in-memory `PersistedEventRepository` written for the \
         harness that keeps payload and metadata as JSON text and parses them into \
         `serde_json::Value`s on each read, as `postgres-es` receives them from sqlx. \
         cqrs-es then upcasts (`SemanticVersionEventUpcaster`), deserializes each \
         `Value` into its event enum and applies it. Its own `MemStore` is not used: \
         it stores typed events (nothing to decode) and prints a line on every load."
            .to_owned(),
    ];
    match postgres {
        Ok((pg_rt, db)) => {
            rows.extend(postgres::run(pg_rt, settings, db));
            notes.push(
                "On PostgreSQL, `postgres-es` 0.5 (sqlx 0.8) runs on the same server with its \
                 own tables (its `db/init.sql`: `json` payloads, primary key (aggregate type, \
                 id, sequence)) in a fresh schema, on a pool of its own that, like ours, does \
                 not ping connections before use. Appends: ours `EventStore::append` with an \
                 expected version; theirs `PersistedEventRepository::persist` of the same \
                 events (its `INSERT` per event inside one transaction). Loads: the \
                 workload-4 stream in both stores; theirs through `PersistedEventStore` \
                 (`new_event_store`, and `new_snapshot_store` with its snapshot row at 9,950), \
                 ours through `Repository::load`."
                    .to_owned(),
            );
        }
        Err(why) => notes.push(format!(
            "Not measured in this run: workloads 3 and 4 against `postgres-es` ({why})."
        )),
    }
    Section {
        number: "6",
        title: "Peers: cqrs-es and postgres-es",
        method: "The workload-1 stream (the same events as JSON) loaded by `cqrs-es` 0.5, and \
                 workloads 3 and 4 (append, load) on `postgres-es` 0.5, each interleaved with \
                 `eventsource` doing the same; the ratio is ours ÷ theirs. Target: batched \
                 append ≥ 3× postgres-es."
            .into(),
        body: Body::Measured {
            ours: "eventsource",
            baseline: "cqrs-es 0.5 / postgres-es 0.5".into(),
            rows,
            notes,
        },
    }
}

fn load_theirs(rt: &Runtime, store: &CqrsStore) -> CqrsAccount {
    rt.block_on(store.load_aggregate(ACCOUNT))
        .expect("cqrs-es loads the stream")
        .aggregate
}
