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

#[derive(Event, Serialize, Deserialize, Debug)]
#[event(name = "shop.OrderShipped")]
struct OrderShipped {
    order: String,
}

#[saga(nmae = "shop.fulfilment", crate = "eventsource::")]
impl Fulfilment {
    #[start(always)]
    fn on_placed(&self, e: &OrderPlaced) {
        println!("{}", e.order);
    }

    fn on_paid(&mut self, e: PaymentTaken, ctx: SagaContext<'_>) {
        let _ = ctx;
        self.paid = e.order == self.order;
    }

    async fn on_shipped<'a>(
        &mut self,
        _: &OrderShipped,
        meta: &RecordedEvent,
        ctx: &mut SagaContext<'a>,
        again: &mut SagaContext<'a>,
    ) {
        let _ = (meta, again);
        ctx.complete();
    }

    #[reset]
    fn clear(&mut self) {
        self.paid = false;
    }

    fn describe(&self) -> String {
        self.order.clone()
    }
}

fn main() {}
