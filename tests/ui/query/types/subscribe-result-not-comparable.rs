use eventsource::prelude::*;

struct View;

#[derive(Query)]
#[query(result = View)]
struct GetView;

struct Views;

#[read_model]
impl Views {
    #[query_handler]
    fn view(&self, _q: &GetView) -> View {
        View
    }
}

async fn follow(bus: &QueryBus) {
    let _ = bus.subscribe(GetView).await;
}

fn main() {}
