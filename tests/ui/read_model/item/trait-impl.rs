use eventsource::prelude::*;

#[derive(Query)]
#[query(result = u32)]
struct Count {
    key: String,
}

struct Counts;

trait Answer {
    fn count(&self, _q: &Count) -> u32;
}

#[read_model]
impl Answer for Counts {
    #[query_handler]
    fn count(&self, _q: &Count) -> u32 {
        0
    }
}

fn main() {}
