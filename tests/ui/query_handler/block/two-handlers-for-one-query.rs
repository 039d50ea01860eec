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

    #[query_handler]
    fn count_again(&self, _q: &Count) -> u32 {
        1
    }
}

fn main() {}
