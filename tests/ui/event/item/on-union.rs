use eventsource::prelude::*;

#[derive(Event)]
#[event(name = "bank.Opened")]
union Opened {
    owner: u64,
    other: i64,
}

fn main() {}
