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

#[saga(name = "shop.fulfilment", partitions = 0)]
impl Fulfilment {
    #[start]
    fn on_placed(&mut self, e: &OrderPlaced) {
        self.order = e.order.clone();
    }

    fn on_paid(&mut self, e: &PaymentTaken, ctx: &mut SagaContext<'_>) {
        self.paid = e.order == self.order;
        ctx.complete();
    }
}

fn main() {}
