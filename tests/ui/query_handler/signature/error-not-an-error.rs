use eventsource::prelude::*;

#[derive(Query)]
#[query(result = u32)]
struct Count {
    key: String,
}

struct Counts;

struct NotAnError;

#[read_model]
impl Counts {
    #[query_handler]
    fn count(&self, _q: &Count) -> Result<u32, NotAnError> {
        Ok(0)
    }
}

fn main() {}
