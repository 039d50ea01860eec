use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

trait Journal: Send {
    fn write(&mut self, line: String);
}

#[derive(Default)]
struct Echo;

#[projection(name = "bank.echo")]
impl Echo {
    fn on_deposited(&mut self, _: &Deposited, journal: &mut dyn Journal + Send) {
        journal.write("deposited".to_owned());
    }

    #[reset]
    fn clear(&mut self) {}
}

fn main() {}
