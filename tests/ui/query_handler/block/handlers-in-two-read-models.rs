use eventsource::prelude::*;

#[derive(Query)]
#[query(result = u32)]
struct Count {
    key: String,
}

struct Counts;

#[read_model]
impl Counts {
    #[query_handler]
    fn count(&self, _q: &Count) -> u32 {
        0
    }
}

struct OtherCounts;

#[read_model]
impl OtherCounts {
    #[query_handler]
    fn count(&self, _q: &Count) -> u32 {
        1
    }
}

async fn ask(bus: &QueryBus) {
    let _ = bus.query(Count { key: "a".into() }).await;
}

fn main() {}
