use eventsource::prelude::*;

#[derive(Query)]
#[query(result = 5)]
struct GetOrder {
    id: String,
}

fn main() {}
