//! Workload 1: rehydrating an aggregate of 10,000 stored events through the
//! repository, against hand-written `serde_json` decoding and a `match`.

use std::hint::black_box;

use eventsource::Repository;
use tokio::runtime::Runtime;

use super::stream::{self, ACCOUNT, Row};
use crate::callgrind;
use crate::domain::Account;
use crate::domain::mix::Schema;
use crate::domain::plain::{self, PlainAccount};
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
        rows.push(
            ReportRow::new(format!("load, {}", schema.label()), "events/s", comparison)
                .target(Target::AtLeast(0.9)),
        );
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
         (upcasting version 1 payloads through the registered JSON upcasters) and applied by \
         the generated `Aggregate::apply`."
            .to_owned(),
        "Baseline: the same JSON strings, read back from the store once before timing, decoded \
         with `serde_json::from_str` into hand-written structs (version 1 shapes into their own \
         structs, converted by hand) and applied with a plain `match`. No store, no registry."
            .to_owned(),
        "What limits it: the store lends its records to the load (`EventStore::visit_stream`), \
         so per event the framework adds only its name dispatch, the version and bounds checks \
         and a registry lookup to the `serde_json` work both sides do. An event at an older \
         version goes through the JSON upcaster chain — parse into a `serde_json::Value`, run \
         the upcaster, then `from_value` — roughly three times the cost of decoding the current \
         shape, where the hand-written baseline decodes a struct per old version directly; that \
         is the gap in the 10% case. Closing it needs typed upcasters that decode the old shape \
         straight from the text (a change to how upcasters are generated and registered)."
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
    Some(ReportRow::new(
        format!("instructions, {}", schema.label()),
        "instr/event",
        comparison,
    ))
}
