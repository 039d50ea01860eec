use eventsource::prelude::*;

#[derive(Query)]
#[query(result = u32)]
union GetOrder {
    id: u32,
}

fn main() {}
