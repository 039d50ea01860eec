//! Every form of query and query handler: sync and async, by reference and
//! by value, a plain answer, `Result<T, E>` and a `Result` alias; a read
//! model named after its projection by type, by name, or by none.

use std::collections::BTreeMap;

use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

type AnswerResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "pass.query.Counted")]
struct Counted {
    key: String,
}

#[derive(Query)]
#[query(result = u32)]
struct Count {
    key: String,
}

#[derive(Query, Clone)]
#[query(result = BTreeMap<String, u32>, name = "pass.query.All")]
struct All;

#[derive(Query)]
#[query(result = Option<String>)]
enum Find {
    First,
    Named(String),
}

#[derive(Query)]
#[query(result = Vec<u32>)]
struct Many(u32);

#[derive(Default)]
struct Counts {
    rows: BTreeMap<String, u32>,
}

#[projection(name = "pass.query.counts")]
impl Counts {
    fn on_counted(&mut self, e: &Counted) {
        *self.rows.entry(e.key.clone()).or_default() += 1;
    }
}

#[read_model(projection = Self)]
impl Counts {
    #[query_handler]
    fn count(&self, q: &Count) -> u32 {
        self.rows.get(&q.key).copied().unwrap_or(0)
    }

    #[query_handler]
    async fn all(&self, _q: All) -> Result<BTreeMap<String, u32>, std::io::Error> {
        Ok(self.rows.clone())
    }

    // Not a handler: helpers stay as they are.
    fn first(&self) -> Option<String> {
        self.rows.keys().next().cloned()
    }

    #[query_handler]
    async fn find(&self, q: &Find) -> AnswerResult<Option<String>> {
        Ok(match q {
            Find::First => self.first(),
            Find::Named(name) => self.rows.contains_key(name).then(|| name.clone()),
        })
    }
}

struct Fixed;

#[read_model(projection = "pass.query.elsewhere")]
impl Fixed {
    #[query_handler]
    fn many(&self, q: &Many) -> Vec<u32> {
        vec![q.0; 2]
    }
}

async fn ask(bus: &QueryBus) -> Result<(), eventsource::query::QueryError> {
    let _: u32 = bus.query(Count { key: "a".into() }).at_least(3).await?;
    let _: BTreeMap<String, u32> = bus.query(All).await?;
    let _: Option<String> = bus.query(Find::First).await?;
    let _: Vec<u32> = bus.query(Many(1)).await?;
    let live = bus.subscribe(Count { key: "a".into() }).await?;
    let _: u32 = live.initial.value;
    Ok(())
}

fn main() {
    let _ = ask;
    assert_eq!(<Counts as ReadModel>::PROJECTION, Some("pass.query.counts"));
    assert_eq!(<Fixed as ReadModel>::PROJECTION, Some("pass.query.elsewhere"));
    assert_eq!(<All as Query>::NAME, "pass.query.All");
}
