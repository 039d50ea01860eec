//! A walkthrough of the order domain: aggregates, the order-summary read
//! model and the fulfilment saga; or, with `serve`, the same domain as an
//! HTTP service.
//!
//! Run it with `cargo run -p orders`; `cargo run -p orders -- serve --port
//! 8080` serves it over HTTP instead (see `orders::http`), with the
//! operations console, read-only, under `/admin`. With `DATABASE_URL` set, events, the
//! order summary (a PostgreSQL table written in the projection's
//! transaction), checkpoints and saga state live in PostgreSQL, in the
//! schema `orders_example` or the one named by `ORDERS_SCHEMA` (the smoke
//! test gives each run its own); otherwise everything is in memory. Every
//! run uses new order ids, so it can run again on the same schema. For a
//! server that requires TLS, put `?sslmode=verify-full&sslrootcert=<CA file>`
//! in `DATABASE_URL`.
//!
//! `cargo run -p orders -- admin <command>` runs the operations CLI of
//! `eventsource-admin` on the same store (`admin --help` lists the
//! commands); `cargo run -p orders --bin orders-worker` runs the order
//! summary and the fulfilment saga until stopped, for the CLI to control.

use std::net::SocketAddr;
use std::time::Duration;

use eventsource::CommandError;
use eventsource::prelude::*;
use orders::app::{App, BoxError};
use orders::inventory::Restock;
use orders::order::{
    AddLine, CancelOrder, Line, Order, PlaceOrder, ShipOrder, Status, SubmitOrder,
};
use orders::queries::GetOrder;
use orders::saga::WAREHOUSE;

const USAGE: &str = "usage: orders [serve [--port PORT] [--host ADDRESS]]";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // `orders admin <command>`: the operations CLI (see `orders::admin`).
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some("admin") {
        let exit = eventsource_admin::run(orders::admin::operations().await?, args).await;
        std::process::exit(exit.code());
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();

    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        None => {}
        Some("serve") => return serve(args).await,
        Some(other) => return Err(format!("unknown command `{other}`; {USAGE}").into()),
    }
    let app = App::from_env().await?;
    let (bus, runner) = (&app.bus, &app.runner);
    println!("eventsource orders walkthrough (store: {})\n", app.kind);
    // Order ids unique to this run, so it can run again on the same database.
    let run = eventsource::uuid::Uuid::now_v7().simple().to_string();
    let order_id = |n: u32| format!("order-{n}-{}", &run[run.len() - 6..]);

    bus.dispatch(Restock {
        warehouse: WAREHOUSE.into(),
        sku: "tea".into(),
        quantity: 20,
    })
    .await?;
    println!("Stocked 20 tea in warehouse `{WAREHOUSE}`.\n");

    println!("1. An order that goes through: reserve, pay, approve, then ship");
    let id = &order_id(1);
    place(bus, id, &[("tea", 4, 1_250)]).await?;
    let order = settle(&app, id).await?;
    println!("   the saga drove it to {:?}", order.status);
    bus.dispatch(ShipOrder {
        order_id: id.into(),
    })
    .await?;
    show(&app, id).await?;

    println!("\n2. An order whose payment is declined: the saga compensates");
    let id = &order_id(2);
    place(bus, id, &[("tea", 10, 15_000)]).await?;
    let order = settle(&app, id).await?;
    println!(
        "   the saga released the stock and moved it to {:?}",
        order.status
    );
    show(&app, id).await?;

    println!("\n3. A customer cancels before submitting");
    let id = &order_id(3);
    bus.dispatch(PlaceOrder {
        order_id: id.into(),
        customer: "ann".into(),
    })
    .await?;
    bus.dispatch(CancelOrder {
        order_id: id.into(),
        reason: "changed my mind".into(),
    })
    .await?;
    match bus
        .dispatch(SubmitOrder {
            order_id: id.into(),
        })
        .await
    {
        Err(CommandError::Rejected(err)) => println!("   submitting it now is refused: {err}"),
        other => return Err(format!("expected a rejection, got {other:?}").into()),
    }
    show(&app, id).await?;

    println!("\n4. Read model status");
    // Everything is written; let every processor reach the head first, so
    // the status shows where they settle rather than a moment in between.
    let head = app.store.head_position().await?;
    for name in runner.names() {
        runner
            .wait_until(name, head, Duration::from_secs(10))
            .await?;
    }
    for name in runner.names() {
        let status = runner.status(name).await?;
        println!(
            "   {name}: {:?}, checkpoint {:?}, lag {}, parked {}",
            status.state, status.position, status.lag, status.parked
        );
    }
    runner.shutdown().await;
    Ok(())
}

/// `serve [--port PORT] [--host ADDRESS]`: the HTTP service until Ctrl-C.
async fn serve(mut args: impl Iterator<Item = String>) -> Result<(), BoxError> {
    let (mut host, mut port) = ("127.0.0.1".to_owned(), 8080u16);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .ok_or_else(|| format!("{flag} needs a value; {USAGE}"))?;
        match flag.as_str() {
            "--port" => port = value.parse().map_err(|e| format!("--port {value}: {e}"))?,
            "--host" => host = value,
            _ => return Err(format!("unknown option `{flag}`; {USAGE}").into()),
        }
    }
    let address: SocketAddr = format!("{host}:{port}")
        .parse()
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let app = App::from_env().await?;
    let listener = tokio::net::TcpListener::bind(address).await?;
    // The line tests read the port from (with `--port 0`).
    println!(
        "orders service listening on http://{} (store: {})",
        listener.local_addr()?,
        app.kind
    );
    let runner = app.runner.clone();
    // The operations console, read-only, beside the service's routes.
    let console = eventsource_admin::Console::new(app.ops.clone())
        .at("/admin")
        .router();
    let routes = orders::http::router(app).nest("/admin", console);
    axum::serve(listener, routes)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    runner.shutdown().await;
    Ok(())
}

async fn place(bus: &CommandBus, id: &str, lines: &[(&str, u32, i64)]) -> Result<(), BoxError> {
    bus.dispatch(PlaceOrder {
        order_id: id.into(),
        customer: "cy".into(),
    })
    .await?;
    for (sku, quantity, unit_price) in lines {
        bus.dispatch(AddLine {
            order_id: id.into(),
            line: Line {
                sku: (*sku).into(),
                quantity: *quantity,
                unit_price: *unit_price,
            },
        })
        .await?;
    }
    bus.dispatch(SubmitOrder {
        order_id: id.into(),
    })
    .await?;
    println!("   placed and submitted {id}");
    Ok(())
}

/// Waits for the saga to approve or cancel the order.
async fn settle(app: &App, id: &str) -> Result<Order, BoxError> {
    let orders = app.bus.repository::<Order>();
    for _ in 0..1000 {
        let order = orders.load(id).await?.ok_or("the order exists")?;
        if matches!(order.state.status, Status::Approved | Status::Cancelled) {
            let head = app.store.head_position().await?;
            app.runner
                .wait_until("orders.fulfilment", head, Duration::from_secs(10))
                .await?;
            return Ok(order.state);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Err(format!("{id} did not settle").into())
}

/// Prints the order's summary once it has caught up with everything
/// written so far (read-your-writes).
async fn show(app: &App, id: &str) -> Result<(), BoxError> {
    let head = app.store.head_position().await?;
    let row = app
        .queries
        .query(GetOrder {
            order_id: id.into(),
        })
        .at_least(head)
        .within(Duration::from_secs(10))
        .await?
        .ok_or("the summary has the order")?;
    println!(
        "   summary: {} | {} line(s) | total {} | {}{}",
        row.order_id,
        row.lines,
        row.total,
        row.status,
        row.cancel_reason
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    Ok(())
}
