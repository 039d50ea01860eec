use eventsource::prelude::*;

#[derive(Query)]
#[query(result = u32)]
struct GetOrder<T> {
    id: T,
}

fn main() {}
