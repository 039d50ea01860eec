//! Workload 6: the same workloads on a peer framework, `cqrs-es`.
//!
//! Phase 1 measures rehydration in memory; the PostgreSQL parts (workloads 3
//! and 4 against `postgres-es`) come with the PostgreSQL store.

mod cqrs;

use std::hint::black_box;

use cqrs_es::EventStore as _;
use cqrs_es::persist::PersistedEventStore;
use eventsource::Repository;
use tokio::runtime::Runtime;

use crate::domain::Account;
use crate::measure::{Settings, compare, rate};
use crate::report::{Body, Row, Section};
use crate::workloads::rehydration::{EVENTS, SCHEMAS, load_ours};
use crate::workloads::stream::{self, ACCOUNT};
use cqrs::{CqrsAccount, JsonRepository};

type CqrsStore = PersistedEventStore<JsonRepository, CqrsAccount>;

/// Rehydration of the workload-1 stream on `cqrs-es`, interleaved with ours.
pub(crate) fn run(rt: &Runtime, settings: &Settings) -> Section {
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
    Section {
        number: "6",
        title: "Peers: cqrs-es and postgres-es",
        method: "The workload-1 stream (the same events as JSON) loaded by `cqrs-es` 0.5, \
                 interleaved with `eventsource`; the ratio is ours ÷ theirs."
            .into(),
        body: Body::Measured {
            ours: "eventsource",
            baseline: "cqrs-es 0.5".into(),
            rows,
            notes: vec![
                "cqrs-es loads through its `PersistedEventStore` (event-sourced mode, no \
                 snapshot) from an in-memory `PersistedEventRepository` written for the \
                 harness that keeps payload and metadata as JSON text and parses them into \
                 `serde_json::Value`s on each read, as `postgres-es` receives them from sqlx. \
                 cqrs-es then upcasts (`SemanticVersionEventUpcaster`), deserializes each \
                 `Value` into its event enum and applies it. Its own `MemStore` is not used: \
                 it stores typed events (nothing to decode) and prints a line on every load."
                    .to_owned(),
                "Not measured yet: workloads 3 and 4 against `postgres-es` on the same \
                 database (phase 2, with the PostgreSQL store)."
                    .to_owned(),
            ],
        },
    }
}

fn load_theirs(rt: &Runtime, store: &CqrsStore) -> CqrsAccount {
    rt.block_on(store.load_aggregate(ACCOUNT))
        .expect("cqrs-es loads the stream")
        .aggregate
}
