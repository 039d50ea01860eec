//! Workload 1: rehydrating an aggregate of 10,000 stored events through the
//! repository, against hand-written `serde_json` decoding and a `match`.

use std::hint::black_box;

use eventsource::event::codec::decode_with;
use eventsource::registry::Registry;
use eventsource::store::EventStore;
use eventsource::{Aggregate, AggregateConfig, Event, EventSet, RecordedEvent, Repository};
use tokio::runtime::Runtime;

use super::stream::{self, ACCOUNT, Row, StoredStream};
use crate::callgrind;
use crate::domain::mix::Schema;
use crate::domain::plain::{self, PlainAccount};
use crate::domain::{Account, AccountEvent, AccountOpened, MoneyDeposited, json_upcasters};
use crate::measure::{Comparison, Settings, Summary, compare, rate};
use crate::report::{Body, Row as ReportRow, Section, Target};

/// Events in the loaded stream.
pub(crate) const EVENTS: usize = 10_000;

/// The schemas measured, in report order.
pub(crate) const SCHEMAS: [Schema; 2] = [Schema::Current, Schema::TenPercentOld];

/// Measures both schemas; adds instruction counts when valgrind is there.
pub(crate) fn run(rt: &Runtime, settings: &Settings, with_callgrind: bool) -> Section {
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    for schema in SCHEMAS {
        let stored = stream::build(rt, EVENTS, schema);
        let repo = Repository::<Account>::new(stored.store.clone()).expect("a valid registry");
        check_same_state(&load_ours(rt, &repo), &load_baseline(&stored.rows));
        let label = match schema {
            Schema::Current => format!("load, {}", schema.label()),
            Schema::TenPercentOld => format!("load, {}, typed upcasters", schema.label()),
        };
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
                    black_box(load_baseline(&stored.rows));
                    EVENTS as u64
                })
            },
        );
        rows.push(ReportRow::new(label, "events/s", comparison).target(Target::AtLeast(0.98)));
        if schema == Schema::TenPercentOld {
            rows.push(json_upcasters_row(rt, settings, &stored));
        }
    }
    if with_callgrind {
        for schema in SCHEMAS {
            match instructions(schema) {
                Some(row) => rows.push(row),
                None => notes.push(format!(
                    "Instruction counts for \"{}\" failed (is valgrind installed?).",
                    schema.label()
                )),
            }
        }
    }
    notes.extend([
        "eventsource: `Repository::<Account>::load` on an `InMemoryStore` without a snapshot \
         store, so all 10,000 events are read, decoded by the generated `EventSet::decode` \
         (upcasting version 1 payloads through the registered typed upcasters, old struct in, \
         event out) and applied by the generated `Aggregate::apply`."
            .to_owned(),
        "The JSON-upcaster row reads the same stream with the two upcasters written in the \
         JSON form (`Value` in, `Value` out): the store's `visit_stream`, the generated \
         `EventSet::decode` for current records and `decode::decode_with` with a registry \
         holding the JSON upcasters for the version 1 ones, then `Aggregate::apply`. It is \
         measured without a target, to show what the JSON form costs."
            .to_owned(),
        "Baseline: the same JSON strings, read back from the store once before timing, decoded \
         with `serde_json::from_str` into hand-written structs (version 1 shapes into their own \
         structs, converted by hand) and applied with a plain `match`. No store, no registry."
            .to_owned(),
        "What limits it: the store lends its records to the load (`EventStore::visit_stream`) \
         a run at a time (the records of the stream that sit next to each other in its log, \
         found by bisection over the stream's log indexes), so per event the framework adds \
         its name dispatch, the tombstone, version and end checks to the `serde_json` work \
         both sides do, and one dynamic call per run: about 13 instructions per event, within \
         1% of the hand-written loop for current events. A typed upcaster \
         that returns the event type hands its struct over as built, and a record one version \
         behind is decoded from its text straight into the upcaster's input; the upcaster's \
         chain keeps its last typed step beside its map, so finding it costs no look-up, but \
         the upcaster is still reached through function pointers (one to check the decoder's \
         type, one to decode and convert), about 150 instructions per old event more than \
         the inlined hand conversion, hence about 2% with 10% of events old. The rest of the \
         throughput gap is memory: each record is a whole envelope (128 bytes, aligned so \
         that the fields a load reads share one cache line, with the ids, stream and \
         metadata in the second) where the baseline walks 40-byte rows; under \
         callgrind's cache model a load misses the first-level cache about 24,000 times \
         against the baseline's 18,800. The throughput ratios move by a few hundredths from \
         one full run of the same binary to the next on this shared machine; the instruction \
         counts do not. In the JSON form an old event is parsed into a `serde_json::Value`, \
         changed, and converted again with `from_value`: about three times the cost of \
         decoding the current shape."
            .to_owned(),
        "Instruction rows (when present) count instructions per event under \
         `valgrind --tool=callgrind` for one load each, collected only inside the load; their \
         ratio is baseline ÷ ours so that it reads like the throughput ratio. They are \
         noise-free but weigh every instruction alike (no cache or branch effects)."
            .to_owned(),
    ]);
    Section {
        number: "1",
        title: "Rehydration (in-memory store)",
        method: "One account stream of 10,000 events (an opening, then 50% deposits, 30% \
             withdrawals, 10% fees, 10% overdraft-limit changes; JSON payloads of 1–3 fields \
             with strings), loaded from scratch."
            .to_owned(),
        body: Body::Measured {
            ours: "eventsource",
            baseline: "hand-written serde_json + match".into(),
            rows,
            notes,
        },
    }
}

/// The JSON-upcaster case against the same baseline.
fn json_upcasters_row(rt: &Runtime, settings: &Settings, stored: &StoredStream) -> ReportRow {
    let registry = json_upcasters::registry();
    registry
        .validate()
        .expect("a valid registry with JSON upcasters");
    check_same_state(
        &load_json_upcasters(rt, stored, &registry),
        &load_baseline(&stored.rows),
    );
    let comparison = compare(
        settings.rounds,
        || {
            rate(settings.round_time, || {
                black_box(load_json_upcasters(rt, stored, &registry));
                EVENTS as u64
            })
        },
        || {
            rate(settings.round_time, || {
                black_box(load_baseline(&stored.rows));
                EVENTS as u64
            })
        },
    );
    ReportRow::new(
        format!("load, {}, JSON upcasters", Schema::TenPercentOld.label()),
        "events/s",
        comparison,
    )
}

/// A load as the repository does it, with the account's version 1 events
/// decoded through `registry`'s JSON upcasters.
fn load_json_upcasters(rt: &Runtime, stored: &StoredStream, registry: &Registry) -> Account {
    let mut state = Account::default();
    let mut failure = None;
    let mut visit = |records: &[RecordedEvent]| {
        for record in records {
            let event = match (record.schema_version, &*record.event_name) {
                (1, MoneyDeposited::NAME) => {
                    decode_with::<MoneyDeposited>(record, registry).map(Into::into)
                }
                (1, AccountOpened::NAME) => {
                    decode_with::<AccountOpened>(record, registry).map(Into::into)
                }
                _ => AccountEvent::decode(record),
            };
            match event {
                Ok(event) => state.apply(&event),
                Err(error) => {
                    failure = Some(error);
                    return false;
                }
            }
        }
        true
    };
    rt.block_on(
        stored
            .store
            .visit_stream(&Account::stream_id(ACCOUNT), 1, &mut visit),
    )
    .expect("the in-memory store reads");
    if let Some(error) = failure {
        panic!("the stream decodes: {error}");
    }
    state
}

/// One full load through the repository.
pub(crate) fn load_ours(rt: &Runtime, repo: &Repository<Account>) -> Account {
    rt.block_on(repo.load(ACCOUNT))
        .expect("the stream decodes")
        .expect("the account exists")
        .state
}

/// The baseline: decode each row by hand and apply it with a `match`.
pub(crate) fn load_baseline(rows: &[Row]) -> PlainAccount {
    let mut state = PlainAccount::default();
    for row in rows {
        let event = plain::decode(&row.name, row.version, &row.payload).expect("the row decodes");
        state.apply(&event);
    }
    state
}

fn check_same_state(ours: &Account, baseline: &PlainAccount) {
    let ours = PlainAccount {
        owner: ours.owner.clone(),
        currency: ours.currency.clone(),
        balance: ours.balance,
        overdraft_limit: ours.overdraft_limit,
        deposits: ours.deposits,
        withdrawals: ours.withdrawals,
        fees: ours.fees,
    };
    assert_eq!(&ours, baseline, "the framework and the baseline disagree");
}

fn instructions(schema: Schema) -> Option<ReportRow> {
    let schema_arg = match schema {
        Schema::Current => "current",
        Schema::TenPercentOld => "old",
    };
    let ours = callgrind::count("rehydration-ours", schema_arg)?;
    let baseline = callgrind::count("rehydration-baseline", schema_arg)?;
    let per_event = |n: u64| n as f64 / EVENTS as f64;
    let comparison = Comparison {
        ours: Summary::exact(per_event(ours)),
        baseline: Summary::exact(per_event(baseline)),
        ratio: Summary::exact(baseline as f64 / ours as f64),
    };
    Some(
        ReportRow::new(
            format!("instructions, {}", schema.label()),
            "instr/event",
            comparison,
        )
        .target(Target::AtLeast(0.99)),
    )
}
