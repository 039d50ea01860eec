use eventsource::prelude::*;

#[read_model]
struct Counts;

fn main() {}
