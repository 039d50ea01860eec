//! Every metric `eventsource::metrics` documents is emitted by a run of the
//! order service on PostgreSQL, recorded by `metrics-util`'s debugging
//! recorder: the walkthrough's orders (approved, declined and compensated,
//! cancelled and refused), and the incidents the alerting metrics are for:
//! a second service instance writing the same order (a conflict, retried),
//! a caller's stale expected version, a malformed event (parked), and the
//! database dropping the service's connections (subscriptions reconnect).
//!
//! Needs `DATABASE_URL` (as `./scripts/test` provides) and fails without
//! it; works in a schema of its own, dropped after.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use eventsource::metrics as names;
use eventsource::prelude::*;
use eventsource::{CommandError, ExpectedVersion};
use eventsource_postgres::{PgEventStore, PgStoreOptions};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use orders::app::App;
use orders::inventory::Restock;
use orders::order::{
    AddLine, CancelOrder, Line, Order, PlaceOrder, ShipOrder, Status, SubmitOrder,
};
use orders::saga::WAREHOUSE;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// What the recorder saw, summed across snapshots (a snapshot resets the
/// counters it reads): by name, then by labels.
#[derive(Default)]
struct Seen(BTreeMap<String, BTreeMap<String, f64>>);

impl Seen {
    fn take(&mut self, snapshotter: &Snapshotter) {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let amount = match value {
                DebugValue::Counter(n) => n as f64,
                DebugValue::Gauge(g) => g.into_inner(),
                DebugValue::Histogram(values) => values.len() as f64,
            };
            *self
                .0
                .entry(key.key().name().to_owned())
                .or_default()
                .entry(labels.join(","))
                .or_default() += amount;
        }
    }

    fn total(&self, name: &str, label: &str) -> f64 {
        self.0
            .get(name)
            .map(|by| {
                by.iter()
                    .filter(|(labels, _)| labels.contains(label))
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0.0)
    }
}

fn line(quantity: u32, unit_price: i64) -> Line {
    Line {
        sku: "tea".into(),
        quantity,
        unit_price,
    }
}

async fn place(bus: &CommandBus, id: &str, line: Line) {
    bus.dispatch(PlaceOrder {
        order_id: id.into(),
        customer: "cy".into(),
    })
    .await
    .expect("placed");
    bus.dispatch(AddLine {
        order_id: id.into(),
        line,
    })
    .await
    .expect("line added");
    bus.dispatch(SubmitOrder {
        order_id: id.into(),
    })
    .await
    .expect("submitted");
}

async fn settle(app: &App, id: &str) -> Status {
    let orders = app.bus.repository::<Order>();
    for _ in 0..2000 {
        let order = orders.load(id).await.expect("loads").expect("exists");
        if matches!(order.state.status, Status::Approved | Status::Cancelled) {
            return order.state.status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{id} did not settle within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_the_order_service_emits_every_documented_metric() {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run ./scripts/test, which finds or starts PostgreSQL")
    });
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder
        .install()
        .expect("the only recorder of this test binary");
    let mut seen = Seen::default();

    // The service's connections carry a name of their own, for the server
    // to drop them.
    let application = format!("orders-metrics-{:08x}", fastrand::u32(..));
    let schema = format!("orders_metrics_{:08x}", fastrand::u32(..));
    let connect = PgConnectOptions::from_str(&url)
        .expect("DATABASE_URL parses")
        .application_name(&application);
    let pool = PgPoolOptions::new()
        .max_connections(6)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(connect)
        .await
        .expect("connects");
    let store = PgEventStore::with_options(pool, PgStoreOptions::new(&schema).expect("a name"));
    let app = App::on_postgres(store.clone()).await.expect("starts");
    let bus = &app.bus;
    let run = uuid::Uuid::now_v7().simple().to_string();
    let id = |n: u32| format!("order-m{n}-{}", &run[run.len() - 8..]);

    // The walkthrough's orders.
    bus.dispatch(Restock {
        warehouse: WAREHOUSE.into(),
        sku: "tea".into(),
        quantity: 20,
    })
    .await
    .expect("restocked");
    place(bus, &id(1), line(4, 1_250)).await;
    assert_eq!(settle(&app, &id(1)).await, Status::Approved);
    bus.dispatch(ShipOrder { order_id: id(1) })
        .await
        .expect("shipped");
    place(bus, &id(2), line(10, 15_000)).await;
    assert_eq!(settle(&app, &id(2)).await, Status::Cancelled);
    bus.dispatch(PlaceOrder {
        order_id: id(3),
        customer: "ann".into(),
    })
    .await
    .expect("placed");
    bus.dispatch(CancelOrder {
        order_id: id(3),
        reason: "changed my mind".into(),
    })
    .await
    .expect("cancelled");
    let refused = bus.dispatch(SubmitOrder { order_id: id(3) }).await;
    assert!(
        matches!(refused, Err(CommandError::Rejected(_))),
        "{refused:?}"
    );

    // Two service instances, each caching orders: the first decides on its
    // cached state after the second wrote, conflicts, reloads and retries.
    let first = bus.clone().with_cache::<Order>(16);
    first
        .dispatch(PlaceOrder {
            order_id: id(4),
            customer: "bo".into(),
        })
        .await
        .expect("placed");
    bus.dispatch(AddLine {
        order_id: id(4),
        line: line(1, 100),
    })
    .await
    .expect("added by the second instance");
    let retried = first
        .dispatch(AddLine {
            order_id: id(4),
            line: line(1, 200),
        })
        .await
        .expect("added by the first instance after a retry");
    assert!(retried.attempts > 1, "the cached state did not conflict");
    // A caller that read an old version: a conflict returned, not retried.
    let stale = bus
        .dispatch_expecting(
            AddLine {
                order_id: id(4),
                line: line(1, 300),
            },
            Metadata::new(),
            ExpectedVersion::Exact(1),
        )
        .await;
    assert!(stale.is_err(), "a stale expected version was accepted");

    // A malformed event: the summary cannot decode it and parks it.
    app.store
        .append(
            &format!("orders.Order-{}", id(5)),
            "orders.Order",
            ExpectedVersion::NoStream,
            vec![NewEvent::new(
                "orders.OrderPlaced",
                1,
                r#"{"not":"an order"}"#,
                Metadata::new(),
            )],
        )
        .await
        .expect("appended by hand");
    let summary = "orders.summary.postgres";
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.runner.status(summary).await.expect("status").parked == 0 {
        assert!(
            Instant::now() < deadline,
            "the malformed event was not parked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The database drops the service's connections: the subscriptions
    // meet the failure and resume.
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .expect("an admin connection");
    for round in 0..100u32 {
        seen.take(&snapshotter);
        if seen.total(names::SUBSCRIPTION_RECONNECTS, "") > 0.0 {
            break;
        }
        assert!(
            round < 99,
            "no subscription reconnected after 100 rounds of killed connections"
        );
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&application)
        .execute(&admin)
        .await
        .expect("terminates");
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Wakes the subscriptions, whose next query meets a dead connection.
        let _ = bus
            .dispatch(Restock {
                warehouse: WAREHOUSE.into(),
                sku: "tea".into(),
                quantity: 1,
            })
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Everything caught up, then the runner stops (its leases released).
    let head = app.store.head_position().await.expect("head");
    for name in app.runner.names() {
        app.runner
            .wait_until(name, head, Duration::from_secs(20))
            .await
            .expect("every processor catches up");
    }
    app.runner.shutdown().await;
    seen.take(&snapshotter);

    for name in names::ALL {
        assert!(
            seen.0.contains_key(name),
            "{name} was never emitted; emitted: {:?}",
            seen.0.keys().collect::<Vec<_>>()
        );
    }
    assert!(seen.total(names::COMMANDS, "outcome=ok") >= 10.0);
    assert!(seen.total(names::COMMANDS, "outcome=rejected") >= 1.0);
    assert!(seen.total(names::COMMANDS, "outcome=conflict") >= 1.0);
    assert!(seen.total(names::RETRIES, "aggregate=orders.Order") >= 1.0);
    assert!(seen.total(names::CONFLICTS, "aggregate=orders.Order") >= 2.0);
    assert!(seen.total(names::EVENTS_PARKED, "reason=failed") >= 1.0);
    assert!(seen.total(names::LEASE_CHANGES, "change=acquired") >= 2.0);
    assert!(seen.total(names::LEASE_CHANGES, "change=released") >= 2.0);
    assert!(seen.total(names::EVENTS_APPENDED, "aggregate=orders.Payment") >= 2.0);

    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&admin)
        .await
        .expect("the schema drops");
}
