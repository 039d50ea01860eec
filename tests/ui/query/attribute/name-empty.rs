use eventsource::prelude::*;

#[derive(Query)]
#[query(result = u32, name = "")]
struct GetOrder {
    id: String,
}

fn main() {}
