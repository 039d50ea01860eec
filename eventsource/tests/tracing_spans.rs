//! Command execution, loads and appends are traced with their key fields.

mod support;

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use support::*;
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

type Spans = Arc<Mutex<Vec<(u64, String, HashMap<String, String>)>>>;

struct Capture(Spans);

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(
            field.name().to_owned(),
            format!("{value:?}").trim_matches('"').to_owned(),
        );
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        self.0
            .lock()
            .unwrap()
            .push((id.into_u64(), attrs.metadata().name().to_owned(), fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, _, fields)) = spans.iter_mut().rev().find(|(i, _, _)| *i == id.into_u64()) {
            values.record(&mut Fields(fields));
        }
    }
}

#[test]
fn execute_load_and_append_spans_carry_their_fields() {
    let spans: Spans = Arc::default();
    let subscriber = tracing_subscriber::registry().with(Capture(spans.clone()));
    tracing::subscriber::with_default(subscriber, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let repo = Repository::<Ledger>::new(InMemoryStore::new()).unwrap();
                repo.execute(open("traced")).await.unwrap();
                repo.execute(credit("traced", 5)).await.unwrap();
            });
    });
    let spans = spans.lock().unwrap();
    let find = |name: &str| -> Vec<&HashMap<String, String>> {
        spans
            .iter()
            .filter(|(_, n, _)| n == name)
            .map(|(_, _, f)| f)
            .collect()
    };
    let executes = find("eventsource.execute");
    assert_eq!(executes.len(), 2);
    let last = executes[1];
    assert_eq!(last["aggregate"], "test.Ledger");
    assert_eq!(last["command"], "tracing_spans::support::Credit");
    assert_eq!(last["stream_id"], "test.Ledger-traced");
    assert_eq!(last["version"], "2");
    assert_eq!(last["events"], "1");
    assert_eq!(last["attempts"], "1");

    let loads = find("eventsource.load");
    assert_eq!(loads.len(), 2);
    assert_eq!(loads[1]["version"], "1");
    assert_eq!(loads[1]["events"], "1");

    let appends = find("eventsource.append");
    assert_eq!(appends.len(), 2);
    assert_eq!(appends[1]["expected"], "version 1");
    assert_eq!(appends[1]["events"], "1");
    assert_eq!(appends[1]["stream_id"], "test.Ledger-traced");
    assert_eq!(appends[1]["version"], "2");
    assert_eq!(appends[1]["position"], "2");
}
