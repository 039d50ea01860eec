use eventsource::memory::InMemoryProjectionBackend;
use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "bank.Withdrawn")]
struct Withdrawn {
    amount: i64,
}

/// Two mistakes, each reported once: the projection still implements
/// `Projection` with its name, events and context, so the code using it
/// reports nothing more.
#[derive(Default)]
struct Balance {
    total: i64,
}

#[projection(name = "bank.balance")]
impl Balance {
    async fn on_deposited(&mut self, e: Deposited) {
        self.total += e.amount;
    }

    fn on_withdrawn(&self, e: &Withdrawn, meta: &RecordedEvent) -> Result<(), String> {
        let _ = (e, meta);
        Ok(())
    }

    #[reset]
    fn clear(&mut self, scale: i64) {
        self.total *= scale;
    }
}

async fn run(store: InMemoryStore) -> Result<(), Box<dyn std::error::Error>> {
    let runner = ProjectionRunner::new(store)?;
    runner.start(Balance::default(), InMemoryProjectionBackend::new()).await?;
    assert_eq!(Balance::NAME, "bank.balance");
    assert_eq!(Balance::EVENTS, ["bank.Deposited", "bank.Withdrawn"]);
    assert!(!Balance::TRANSACTIONAL);
    let _: <Balance as Projection>::Context = ();
    Ok(())
}

fn main() {
    let _ = run;
}
