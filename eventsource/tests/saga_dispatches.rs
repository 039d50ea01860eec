//! A saga that declares the commands it dispatches
//! (`#[saga(dispatches = [...])]`) may dispatch those and no other: an
//! undeclared command is refused with a typed error and never runs, so the
//! event-flow graph drawn from the declarations is the truth.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::prelude::*;
use eventsource::registry::{FlowGraph, Registry};
use eventsource::{CommandError, Error};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use support::{Credit, Debit, Opened};

/// What the saga's dispatches answered, for the test to read.
static OUTCOMES: Mutex<Vec<Result<(), String>>> = Mutex::new(Vec::new());

#[derive(Serialize, Deserialize, Debug, Default)]
struct Welcome {
    done: bool,
}

#[saga(name = "test.welcome", dispatches = [Credit])]
impl Welcome {
    #[start]
    async fn on_opened(
        &mut self,
        _e: &Opened,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), ProjectionError> {
        let id = "acct-1".to_owned();
        let credited = ctx
            .dispatch(Credit {
                id: id.clone(),
                amount: 5,
            })
            .await;
        let debited = ctx.dispatch(Debit { id, amount: 1 }).await;
        let mut outcomes = OUTCOMES.lock().unwrap_or_else(|e| e.into_inner());
        outcomes.push(credited.map(|_| ()).map_err(|e| e.to_string()));
        outcomes.push(debited.map(|_| ()).map_err(|e| match e {
            CommandError::Failed(Error::UndeclaredDispatch { saga, command, .. }) => {
                format!("undeclared: {saga} {command}")
            }
            other => format!("unexpected: {other}"),
        }));
        self.done = true;
        ctx.complete();
        Ok(())
    }
}

#[tokio::test]
async fn an_undeclared_command_is_refused_and_a_declared_one_runs() {
    let store = InMemoryStore::new();
    let bus = CommandBus::new(store.clone()).expect("a valid registry");
    let runner = ProjectionRunner::new(store.clone()).expect("a valid registry");
    runner
        .start(
            SagaProcessor::<Welcome>::new(bus.clone(), InMemorySagaStore::new()),
            InMemoryProjectionBackend::new(),
        )
        .await
        .expect("the saga starts");
    bus.dispatch(support::open("acct-1")).await.expect("opened");

    let outcomes = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let seen = OUTCOMES.lock().unwrap_or_else(|e| e.into_inner()).clone();
            if seen.len() >= 2 {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the saga handled the event within 10 s");
    runner.shutdown().await;

    let debit = <Debit as Command>::NAME;
    assert_eq!(
        outcomes,
        [Ok(()), Err(format!("undeclared: test.welcome {debit}"))]
    );
    let names: Vec<String> = store
        .read_stream(&Repository::<support::Ledger>::stream_id("acct-1"), 0)
        .map(|e| e.map(|e| e.event_name.to_string()))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("the stream reads");
    assert_eq!(names, ["test.LedgerOpened", "test.Credited"]);

    let message = Error::UndeclaredDispatch {
        saga: "test.welcome",
        command: debit,
        declared: &["Credit"],
    }
    .to_string();
    assert_eq!(
        message,
        format!(
            "saga `test.welcome` dispatched command `{debit}`, which it does not declare: add it to `#[saga(dispatches = [...])]` (declared: Credit)"
        )
    );
}

#[test]
fn the_declaration_is_registered_and_drawn() {
    let registry = Registry::global();
    let saga = registry
        .parts()
        .sagas
        .iter()
        .find(|s| s.name == "test.welcome")
        .expect("registered");
    assert_eq!(saga.dispatches, Some(&[<Credit as Command>::NAME][..]));
    let graph = FlowGraph::of(registry);
    let edges = graph.edge_pairs();
    let credit = format!("command:{}", <Credit as Command>::NAME);
    assert!(edges.contains(&("saga:test.welcome", credit.as_str())));
    assert!(edges.contains(&("event:test.LedgerOpened", "saga:test.welcome")));
    assert!(
        !edges
            .iter()
            .any(|(from, to)| *from == "saga:test.welcome" && *to != credit.as_str())
    );
}
