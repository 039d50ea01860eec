use eventsource::prelude::*;

#[derive(Query)]
#[query(reslt = u32)]
struct GetOrder {
    id: String,
}

fn main() {}
