//! Every handler form of `#[projection]`, run by a `ProjectionRunner`: sync
//! and async, with and without the record's metadata, infallible and
//! fallible (a `Result` written out, an alias, errors named through `Self`),
//! and a `#[reset]` method without the context, run by a rebuild; and a
//! projection on a concrete instance of a generic type.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource::BoxError;
use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::prelude::*;
use eventsource::projection::RunnerOptions;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "forms.Opened")]
struct Opened {
    id: String,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "forms.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "forms.Withdrawn")]
struct Withdrawn {
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "forms.Noted")]
struct Noted {
    text: String,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "forms.Frozen")]
struct Frozen {}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "forms.Closed")]
struct Closed {}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "forms.Ignored")]
struct Ignored {}

/// An alias that does not spell out its error.
type Outcome = Result<(), BoxError>;

#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused: {}", self.0)
    }
}

impl std::error::Error for Refused {}

trait Failing {
    type Failure;
}

impl Failing for Log {
    type Failure = Refused;
}

/// The lines the handlers write, shared with `main`.
#[derive(Clone, Default)]
struct Log {
    lines: Arc<Mutex<Vec<String>>>,
    resets: Arc<Mutex<u32>>,
}

impl Log {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

#[projection(name = "forms.log")]
impl Log {
    fn on_opened(&mut self, e: &Opened) {
        self.push(format!("opened {}", e.id));
    }

    async fn on_deposited(&mut self, e: &Deposited, meta: &RecordedEvent) -> () {
        self.push(format!(
            "deposited {} as v{}",
            e.amount, meta.stream_version
        ));
    }

    fn on_withdrawn(&mut self, e: &Withdrawn, meta: &RecordedEvent) -> Result<(), Refused> {
        if e.amount > 100 {
            return Err(Refused(format!("{} at v{}", e.amount, meta.stream_version)));
        }
        self.push(format!("withdrawn {}", e.amount));
        Ok(())
    }

    async fn on_noted(&mut self, e: &Noted) -> Outcome {
        if e.text.is_empty() {
            return Err("an empty note".into());
        }
        self.push(format!("noted {}", e.text));
        Ok(())
    }

    fn on_frozen(&mut self, _: &Frozen) -> Result<(), String> {
        Err("frozen accounts are not supported".to_owned())
    }

    async fn on_closed(&mut self, _: &Closed) -> Result<(), <Self as Failing>::Failure> {
        self.push("closed".to_owned());
        Ok(())
    }

    #[reset]
    async fn clear(&mut self) {
        self.lines.lock().unwrap().clear();
        *self.resets.lock().unwrap() += 1;
    }
}

/// A projection on a concrete instance of a generic type.
#[derive(Default)]
struct Tally<T> {
    seen: Vec<T>,
}

#[projection(name = "forms.tally")]
impl Tally<u8> {
    fn on_opened(&mut self, _: &Opened) {
        self.seen.push(1);
    }
}

async fn append<E: Event>(store: &InMemoryStore, event: &E) -> u64 {
    store
        .append(
            "account-1",
            "forms.Account",
            ExpectedVersion::Any,
            vec![NewEvent::from_event(event, Metadata::new()).unwrap()],
        )
        .await
        .unwrap()
        .last_position
}

#[tokio::main]
async fn main() {
    assert_eq!(<Log as Projection>::NAME, "forms.log");
    assert_eq!(
        <Log as Projection>::EVENTS,
        [
            "forms.Opened",
            "forms.Deposited",
            "forms.Withdrawn",
            "forms.Noted",
            "forms.Frozen",
            "forms.Closed",
        ]
    );
    assert!(!<Log as Projection>::TRANSACTIONAL);
    // Only a projection with a #[reset] method can be rebuilt.
    assert!(<Log as Projection>::RESETS);
    assert!(!<Tally<u8> as Projection>::RESETS);
    let _: <Log as Projection>::Context = ();

    let mut tally = Tally::<u8>::default();
    let opened = eventsource_tests::stored("forms.Opened", 1, r#"{"id":"t"}"#);
    assert!(tally.handle(&opened, &mut ()).await.unwrap());
    assert_eq!(tally.seen, [1]);
    let registered = eventsource::Registry::global()
        .parts()
        .projections
        .iter()
        .find(|p| p.name == "forms.tally")
        .map(|p| p.rust_type);
    assert!(
        registered.is_some_and(|t| t.ends_with("::Tally<u8>")),
        "{registered:?}"
    );

    let store = InMemoryStore::new();
    let runner = ProjectionRunner::new(store.clone()).unwrap().with_options(
        RunnerOptions::default()
            .with_max_retries(1)
            .with_retry_backoff(Duration::from_millis(1), Duration::from_millis(1)),
    );
    let log = Log::default();
    runner
        .start(log.clone(), InMemoryProjectionBackend::new()).await
        .unwrap();

    append(&store, &Opened { id: "a1".into() }).await;
    append(&store, &Deposited { amount: 50 }).await;
    append(&store, &Ignored {}).await;
    append(&store, &Withdrawn { amount: 20 }).await;
    append(&store, &Withdrawn { amount: 500 }).await;
    append(&store, &Noted { text: "hi".into() }).await;
    append(
        &store,
        &Noted {
            text: String::new(),
        },
    )
    .await;
    append(&store, &Frozen {}).await;
    let head = append(&store, &Closed {}).await;
    let wait = Duration::from_secs(5);
    runner.wait_until("forms.log", head, wait).await.unwrap();

    let expected = [
        "opened a1",
        "deposited 50 as v2",
        "withdrawn 20",
        "noted hi",
        "closed",
    ];
    assert_eq!(log.lines(), expected);
    // The failing handlers' errors are kept, converted, with their events.
    let parked: Vec<(String, String)> = runner
        .parked("forms.log")
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.event_name, p.error))
        .collect();
    assert_eq!(
        parked,
        [
            (
                "forms.Withdrawn".to_owned(),
                "refused: 500 at v5".to_owned()
            ),
            ("forms.Noted".to_owned(), "an empty note".to_owned()),
            (
                "forms.Frozen".to_owned(),
                "frozen accounts are not supported".to_owned()
            ),
        ]
    );

    // A rebuild runs the #[reset] method, then replays the log.
    runner.rebuild("forms.log", |_| {}).await.unwrap();
    runner.wait_until("forms.log", head, wait).await.unwrap();
    assert_eq!(*log.resets.lock().unwrap(), 1);
    assert_eq!(log.lines(), expected);
    runner.shutdown().await;
}
