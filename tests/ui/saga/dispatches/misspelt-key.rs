use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Default, Serialize, Deserialize)]
struct Welcome {
    sent: bool,
}

#[saga(name = "bank.welcome", dispatch = [Deposited])]
impl Welcome {
    #[start]
    fn on_deposited(&mut self, _: &Deposited) {
        self.sent = true;
    }
}

fn main() {}
