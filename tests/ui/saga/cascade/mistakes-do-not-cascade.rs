use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore};
use eventsource::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.OrderPlaced")]
struct OrderPlaced {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.PaymentTaken")]
struct PaymentTaken {
    order: String,
}

#[derive(Serialize, Deserialize, Default)]
struct Fulfilment {
    order: String,
    paid: bool,
}

#[saga(name = "shop.fulfilment")]
impl Fulfilment {
    #[start]
    fn on_placed(&mut self, e: &OrderPlaced) {
        self.order = e.order.clone();
    }

    async fn on_paid(&mut self, e: PaymentTaken, ctx: &mut SagaContext<'_>) {
        self.paid = e.order == self.order;
        ctx.complete();
    }
}

async fn run(store: InMemoryStore) -> Result<(), Box<dyn std::error::Error>> {
    let bus = CommandBus::new(store.clone())?;
    let runner = ProjectionRunner::new(store)?;
    runner.start(
        SagaProcessor::<Fulfilment>::new(bus, InMemorySagaStore::new()),
        InMemoryProjectionBackend::new(),
    ).await?;
    assert_eq!(Fulfilment::NAME, "shop.fulfilment");
    assert_eq!(
        Fulfilment::EVENTS,
        ["shop.OrderPlaced", "shop.PaymentTaken"]
    );
    Ok(())
}

fn main() {
    let _ = run;
}
