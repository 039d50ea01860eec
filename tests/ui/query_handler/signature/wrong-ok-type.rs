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
    async fn count(&self, _q: &Count) -> Result<i64, String> {
        Ok(0)
    }
}

fn main() {}
