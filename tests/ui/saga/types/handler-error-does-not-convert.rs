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

#[derive(Debug)]
enum Declined {
    Twice,
}

#[saga(name = "shop.fulfilment")]
impl Fulfilment {
    #[start]
    fn on_placed(&mut self, e: &OrderPlaced) {
        self.order = e.order.clone();
    }

    async fn on_paid(
        &mut self,
        _: &PaymentTaken,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), Declined> {
        if self.paid {
            return Err(Declined::Twice);
        }
        self.paid = true;
        ctx.complete();
        Ok(())
    }
}

fn main() {}
