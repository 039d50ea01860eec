use eventsource::prelude::*;

#[derive(Event)]
#[event(name = "bank.Opened")]
struct Opened {
    owner: String,
}

fn main() {}
