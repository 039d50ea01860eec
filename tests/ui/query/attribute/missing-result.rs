use eventsource::prelude::*;

#[derive(Query)]
struct GetOrder {
    id: String,
}

fn main() {}
