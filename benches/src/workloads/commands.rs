//! Workload 2: command throughput on the in-memory store — load (snapshot
//! plus the events after it), handle, append, snapshot — against the same
//! decide and apply methods called directly on a state kept in memory.

use std::collections::HashMap;
use std::hint::black_box;

use eventsource::memory::InMemoryStore;
use eventsource::{Aggregate as _, AggregateConfig, CommandBus};
use tokio::runtime::Runtime;

use crate::domain::{Account, AccountError, Deposit, OpenAccount, Withdraw};
use crate::measure::{Settings, compare, rate};
use crate::report::{Body, Row, Section};

/// Commands per timed iteration.
const BATCH: u64 = 100;

/// Accounts in the many-streams case.
const ACCOUNTS: usize = 1_000;

/// Measures one hot stream and many streams.
pub(crate) fn run(rt: &Runtime, settings: &Settings) -> Section {
    let every = Account::SNAPSHOT_EVERY.unwrap_or_default();
    let rows = vec![
        case(rt, settings, 1, "one stream"),
        case(rt, settings, ACCOUNTS, "1,000 streams, round-robin"),
    ];
    Section {
        number: "2",
        title: "Command throughput (in-memory store)",
        method: format!(
            "Deposits and withdrawals (every tenth withdrawal also emits a fee event) sent \
             through `CommandBus::dispatch` to accounts on an `InMemoryStore` that is also the \
             snapshot store; the account takes a snapshot every {every} events, so each command \
             loads a snapshot plus up to {} events, decides, appends with an expected version \
             and sometimes saves a snapshot. One task, current-thread runtime.",
            every - 1
        ),
        body: Body::Measured {
            ours: "eventsource",
            baseline: "decide + apply called directly".into(),
            rows,
            notes: vec![
                "Baseline: the aggregate's own command and event handler methods called \
                 directly on states held in a `HashMap`: no store, no JSON, no snapshots, no \
                 ids or metadata. The ratio is therefore the cost of persistence, not of \
                 dispatch; the issue sets no target for it."
                    .to_owned(),
                "What limits it: each command replays the events since the last snapshot \
                 (about 50 on average with a snapshot every 100), so rehydration (workload 1) \
                 dominates; then the JSON encoding of the new events and, every 100 events, of \
                 the snapshot, the UUID v7 ids, the append under the store's write lock, and \
                 the tracing spans (no subscriber is installed)."
                    .to_owned(),
            ],
        },
    }
}

fn case(rt: &Runtime, settings: &Settings, accounts: usize, label: &str) -> Row {
    let ids: Vec<String> = (0..accounts).map(|i| format!("acc-{i}")).collect();
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone())
        .expect("a valid registry")
        .with_snapshots(store);
    let mut states: HashMap<String, Account> = HashMap::new();
    for id in &ids {
        let open = OpenAccount {
            id: id.clone(),
            owner: "Ada Lovelace".into(),
            overdraft_limit: 10_000,
        };
        let mut state = Account::default();
        let opened = state.open(&open).expect("a valid opening");
        state.on_opened(&opened);
        states.insert(id.clone(), state);
        rt.block_on(bus.dispatch(open)).expect("the account opens");
    }
    let mut ours_next = 0u64;
    let mut baseline_next = 0u64;
    let comparison = compare(
        settings.rounds,
        || {
            rate(settings.round_time, || {
                rt.block_on(async {
                    for _ in 0..BATCH {
                        let (id, deposit, amount) = command_at(&ids, ours_next);
                        ours_next += 1;
                        if deposit {
                            let cmd = Deposit {
                                id,
                                amount,
                                reference: format!("ref-{ours_next}"),
                            };
                            black_box(bus.dispatch(cmd).await.expect("the deposit is accepted"));
                        } else {
                            let cmd = Withdraw {
                                id,
                                amount,
                                reference: format!("ref-{ours_next}"),
                            };
                            black_box(bus.dispatch(cmd).await.expect("the withdrawal is accepted"));
                        }
                    }
                });
                BATCH
            })
        },
        || {
            rate(settings.round_time, || {
                for _ in 0..BATCH {
                    let (id, deposit, amount) = command_at(&ids, baseline_next);
                    baseline_next += 1;
                    let reference = format!("ref-{baseline_next}");
                    let state = states.get_mut(&id).expect("the account exists");
                    black_box(direct(state, id, deposit, amount, reference))
                        .expect("the command is accepted");
                }
                BATCH
            })
        },
    );
    Row::new(label, "commands/s", comparison)
}

/// The `n`th command: its account, whether it deposits, and the amount.
/// Each account alternates a deposit of 200 and a withdrawal of 100.
fn command_at(ids: &[String], n: u64) -> (String, bool, i64) {
    let count = ids.len() as u64;
    let id = ids[(n % count) as usize].clone();
    let deposit = (n / count).is_multiple_of(2);
    (id, deposit, if deposit { 200 } else { 100 })
}

/// The baseline: the handlers called directly on the state.
fn direct(
    state: &mut Account,
    id: String,
    deposit: bool,
    amount: i64,
    reference: String,
) -> Result<(), AccountError> {
    if deposit {
        let event = state.deposit(&Deposit {
            id,
            amount,
            reference,
        })?;
        state.on_deposited(&event);
    } else {
        let events = state.withdraw(&Withdraw {
            id,
            amount,
            reference,
        })?;
        for event in &events {
            state.apply(event);
        }
    }
    Ok(())
}
