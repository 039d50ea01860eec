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
    fn count(&self, _q: &Count, limit: u32) -> u32 {
        limit
    }
}

fn main() {}
