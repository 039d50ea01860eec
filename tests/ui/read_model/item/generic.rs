use eventsource::prelude::*;

#[derive(Query)]
#[query(result = u32)]
struct Count {
    key: String,
}

struct Counts;

struct Wrapper<T>(T);

#[read_model]
impl<T: Send + Sync + 'static> Wrapper<T> {
    #[query_handler]
    fn count(&self, _q: &Count) -> u32 {
        0
    }
}

fn main() {}
