//! Command senders: each works through a script of operations drawn from
//! the seed, sending each again until it gets an answer, and survives its
//! own crashes: a restarted sender resumes at the first operation it has
//! no answer for (its place is kept as a client keeps its outbox).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use eventsource::clock::Clock;
use eventsource::store::{EventStore, ExpectedVersion};
use eventsource::{CommandBus, CommandError, Metadata, NewEvent};
use uuid::Uuid;

use crate::domain::{Deposit, StartTransfer, Withdraw, transfer_stream};
use crate::faults::Faults;

/// The event a sender appends straight to the store, bypassing aggregates.
pub const NOTED: &str = "sim.Noted";

/// The accounts operations pick from.
pub const ACCOUNTS: [&str; 4] = ["acct-0", "acct-1", "acct-2", "acct-3"];

/// One operation of a script.
#[derive(Clone, Debug)]
pub enum Operation {
    /// Pay into an account.
    Deposit {
        /// The account.
        account: &'static str,
        /// How much.
        amount: i64,
    },
    /// Take out of an account.
    Withdraw {
        /// The account.
        account: &'static str,
        /// How much.
        amount: i64,
    },
    /// Move money between accounts, through the saga.
    Transfer {
        /// The account paying.
        from: &'static str,
        /// The account paid.
        to: &'static str,
        /// How much.
        amount: i64,
    },
    /// Append a batch of events straight to the store with ids fixed
    /// once, so that sending it again is recognised.
    Note {
        /// The batch's event ids.
        ids: Vec<Uuid>,
    },
}

/// What a sender learned of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Events were appended: the stream and their positions, in order.
    Appended {
        /// The stream.
        stream: String,
        /// First and last global position.
        positions: (u64, u64),
    },
    /// The operation changed nothing (done before, or nothing to do).
    Unchanged,
    /// The aggregate refused.
    Rejected,
}

/// An operation with its id and answer.
#[derive(Clone, Debug)]
pub struct Done {
    /// The operation's id (unique in the run).
    pub op: u64,
    /// The operation.
    pub operation: Operation,
    /// Its answer.
    pub answer: Answer,
}

/// A sender's script and progress, kept across its crashes.
#[derive(Debug)]
pub struct Script {
    id: u64,
    operations: Vec<Operation>,
    state: Mutex<Progress>,
}

#[derive(Debug, Default)]
struct Progress {
    next: usize,
    done: Vec<Done>,
    /// Sends that got no answer (failures, lost replies).
    unanswered: u64,
}

impl Script {
    /// A script of `length` operations for sender `id`, drawn from `faults`'
    /// generator (ids of notes from `clock`).
    pub fn draw(id: u64, length: usize, faults: &Faults, clock: &Clock) -> Arc<Self> {
        let pick = |faults: &Faults| ACCOUNTS[faults.below(ACCOUNTS.len() as u64) as usize];
        let operations = (0..length)
            .map(|_| match faults.below(10) {
                0..=2 => Operation::Deposit {
                    account: pick(faults),
                    amount: 1 + faults.below(100) as i64,
                },
                3..=4 => Operation::Withdraw {
                    account: pick(faults),
                    amount: 1 + faults.below(100) as i64,
                },
                5..=7 => {
                    let from = pick(faults);
                    let mut to = pick(faults);
                    if to == from {
                        to = ACCOUNTS[(ACCOUNTS.iter().position(|a| *a == from).unwrap_or(0) + 1)
                            % ACCOUNTS.len()];
                    }
                    Operation::Transfer {
                        from,
                        to,
                        amount: 1 + faults.below(60) as i64,
                    }
                }
                _ => Operation::Note {
                    ids: (0..1 + faults.below(3)).map(|_| clock.uuid_v7()).collect(),
                },
            })
            .collect();
        Arc::new(Self {
            id,
            operations,
            state: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether every operation has its answer.
    pub fn finished(&self) -> bool {
        self.lock().next >= self.operations.len()
    }

    /// The operations answered, in order.
    pub fn done(&self) -> Vec<Done> {
        self.lock().done.clone()
    }

    /// How many sends got no answer.
    pub fn unanswered(&self) -> u64 {
        self.lock().unanswered
    }

    fn op_id(&self, index: usize) -> u64 {
        self.id * 10_000 + index as u64
    }
}

/// How many times one operation is sent before the sender gives up on it
/// (the run then reports it unfinished).
const SENDS: u32 = 500;

/// Works through `script` from where it stands.
pub async fn run(
    script: Arc<Script>,
    bus: CommandBus,
    store: Arc<dyn EventStore>,
    faults: Faults,
    clock: Clock,
) {
    loop {
        let index = script.lock().next;
        let Some(operation) = script.operations.get(index).cloned() else {
            return;
        };
        let op = script.op_id(index);
        let mut answer = None;
        for _ in 0..SENDS {
            match send(op, &operation, &bus, &*store).await {
                Some(got) => {
                    answer = Some(got);
                    break;
                }
                None => {
                    script.lock().unanswered += 1;
                    let pause = Duration::from_millis(5 + faults.below(40));
                    clock.sleep(pause).await;
                }
            }
        }
        let Some(answer) = answer else {
            return;
        };
        faults.record(format_args!("sender {} op {op} {answer:?}", script.id));
        let mut progress = script.lock();
        progress.done.push(Done {
            op,
            operation,
            answer,
        });
        progress.next = index + 1;
    }
}

/// Sends `operation` once; `None` when there is no answer to trust.
async fn send(
    op: u64,
    operation: &Operation,
    bus: &CommandBus,
    store: &dyn EventStore,
) -> Option<Answer> {
    fn answer<A: eventsource::Aggregate, E>(
        result: Result<eventsource::Executed<A>, CommandError<E>>,
    ) -> Option<Answer> {
        match result {
            Ok(executed) => Some(match executed.appended {
                Some(appended) => Answer::Appended {
                    stream: executed.stream_id.to_string(),
                    positions: (appended.first_position, appended.last_position),
                },
                None => Answer::Unchanged,
            }),
            Err(CommandError::Rejected(_)) => Some(Answer::Rejected),
            Err(_) => None,
        }
    }
    match operation {
        Operation::Deposit { account, amount } => answer(
            bus.dispatch(Deposit {
                account: (*account).to_owned(),
                op,
                amount: *amount,
            })
            .await,
        ),
        Operation::Withdraw { account, amount } => answer(
            bus.dispatch(Withdraw {
                account: (*account).to_owned(),
                op,
                amount: *amount,
            })
            .await,
        ),
        Operation::Transfer { from, to, amount } => answer(
            bus.dispatch(StartTransfer {
                id: transfer_stream(op),
                transfer: op,
                from: (*from).to_owned(),
                to: (*to).to_owned(),
                amount: *amount,
            })
            .await,
        ),
        Operation::Note { ids } => {
            let stream = format!("journal-{}", op / 10_000);
            let events = ids
                .iter()
                .map(|id| NewEvent {
                    event_id: *id,
                    event_name: NOTED.into(),
                    schema_version: 1,
                    payload: format!(r#"{{"op":{op}}}"#).into(),
                    metadata: Metadata::new(),
                })
                .collect();
            let appended = store
                .append(&stream, "sim.Journal", ExpectedVersion::Any, events)
                .await
                .ok()?;
            Some(Answer::Appended {
                stream,
                positions: (appended.first_position, appended.last_position),
            })
        }
    }
}
