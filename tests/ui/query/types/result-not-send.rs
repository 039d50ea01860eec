use eventsource::prelude::*;

#[derive(Query)]
#[query(result = std::rc::Rc<u32>)]
struct GetOrder {
    id: String,
}

fn main() {}
