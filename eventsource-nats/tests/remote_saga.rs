//! A saga in a service that reaches NATS but not the database: fed from
//! JetStream, it dispatches its commands to the service's own store.

mod common;

use std::time::Duration;

use eventsource::memory::{InMemoryProjectionBackend, InMemorySagaStore, InMemoryStore};
use eventsource::prelude::*;
use eventsource::store::EventStore;
use eventsource_nats::relay::{Relay, RelayOptions};
use eventsource_nats::source::{JetStreamSource, SourceOptions};
use eventsource_nats::stream::StreamSettings;
use eventsource_nats::subject::SubjectScheme;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "natssaga.OrderPlaced")]
struct OrderPlaced {
    order: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "natssaga.ReceiptIssued")]
struct ReceiptIssued {
    order: String,
}

#[derive(Command, Debug, Clone)]
#[command(aggregate = Receipt)]
struct IssueReceipt {
    #[aggregate_id]
    order: String,
}

#[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "natssaga.Receipt")]
struct Receipt {
    issued: bool,
}

#[aggregate_impl]
impl Receipt {
    #[command_handler(create)]
    fn issue(&self, cmd: &IssueReceipt) -> ReceiptIssued {
        ReceiptIssued {
            order: cmd.order.clone(),
        }
    }

    #[event_sourcing_handler]
    fn on_issued(&mut self, _e: &ReceiptIssued) {
        self.issued = true;
    }
}

#[derive(Serialize, Deserialize, Debug, Default)]
struct Receipts;

#[saga(name = "natssaga.receipts", dispatches = [IssueReceipt])]
impl Receipts {
    #[start]
    async fn on_placed(
        &mut self,
        e: &OrderPlaced,
        ctx: &mut SagaContext<'_>,
    ) -> Result<(), ProjectionError> {
        ctx.dispatch(IssueReceipt {
            order: e.order.clone(),
        })
        .await
        .map_err(ProjectionError::handler)?;
        ctx.complete();
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saga_fed_from_jetstream_dispatches_to_its_own_store() {
    let client = common::nats().await;
    let store = common::pg_store().await;
    let stream = common::unique("NATS_SAGA");
    let settings = StreamSettings::new(&stream, vec![format!("{stream}.>")]).expect("settings");
    let options = RelayOptions::new("saga-relay", settings)
        .expect("options")
        .with_subjects(SubjectScheme::prefixed(&stream).expect("prefix"));
    let relay = Relay::new(
        store.clone(),
        store.projection_backend(),
        client.clone(),
        options,
    )
    .spawn();

    // The remote service: its own store, fed by the bus.
    let local = InMemoryStore::new();
    let bus = CommandBus::new(local.clone()).expect("a bus");
    let source = JetStreamSource::new(
        client.clone(),
        SourceOptions::new(&stream, "receipts").expect("source options"),
    );
    let runner = ProjectionRunner::new(source).expect("a runner");
    runner
        .start(
            SagaProcessor::<Receipts>::new(bus, InMemorySagaStore::new()),
            InMemoryProjectionBackend::new(),
        )
        .await
        .expect("the saga starts");

    const ORDERS: usize = 25;
    for i in 0..ORDERS {
        let event = NewEvent::from_event(
            &OrderPlaced {
                order: format!("order {i}"),
            },
            Metadata::new(),
        )
        .expect("encode");
        store
            .append(
                &format!("order.{i}"),
                "natssaga.Order",
                ExpectedVersion::NoStream,
                vec![event],
            )
            .await
            .expect("append");
    }
    let head = store.head_position().await.expect("head");
    let wait = Duration::from_secs(60);
    relay.wait_until(head, wait).await.expect("relayed");
    runner
        .wait_until("natssaga.receipts", head, wait)
        .await
        .expect("the saga catches up");

    let receipts = common::read_log(&local).await;
    let mut orders: Vec<String> = receipts
        .iter()
        .map(|e| {
            assert_eq!(&*e.event_name, "natssaga.ReceiptIssued");
            serde_json::from_str::<ReceiptIssued>(&e.payload)
                .expect("a receipt")
                .order
        })
        .collect();
    orders.sort();
    let mut expected: Vec<String> = (0..ORDERS).map(|i| format!("order {i}")).collect();
    expected.sort();
    assert_eq!(orders, expected);
    // Each receipt is caused by the event that came over JetStream.
    let placed: std::collections::HashSet<_> = common::read_log(&store)
        .await
        .iter()
        .map(|e| e.event_id)
        .collect();
    assert!(receipts.iter().all(|r| {
        r.metadata
            .causation_id
            .is_some_and(|id| placed.contains(&id))
    }));

    runner.shutdown().await;
    relay.stop().await.expect("the relay stops");
    common::delete_stream(&client, &stream).await;
    common::drop_schema(&store).await;
}
