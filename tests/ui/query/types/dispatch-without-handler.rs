use eventsource::prelude::*;

#[derive(Query)]
#[query(result = u32)]
struct Unanswered {
    id: String,
}

async fn ask(bus: &QueryBus) {
    let _ = bus.query(Unanswered { id: "a".into() }).await;
}

fn main() {}
