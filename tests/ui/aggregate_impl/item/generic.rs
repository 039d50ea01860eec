use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Default)]
struct Account<T> {
    balance: T,
}

#[aggregate_impl]
impl<T> Account<T> {
    #[event_sourcing_handler]
    fn on_deposited(&mut self, _: &Deposited) {}
}

fn main() {}
