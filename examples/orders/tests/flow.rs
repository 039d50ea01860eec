//! What the registry shows of the orders application: its event flow
//! (exactly its real edges), drawn as SVG with every node, the Mermaid chart
//! the README shows, and its committed schema lock.
//!
//! After a change to the flow, regenerate the README's chart with
//! `EVENTSOURCE_BLESS=1 cargo test -p orders --test flow`; after a
//! compatible change to an event, update the lock with
//! `EVENTSOURCE_UPDATE_LOCK=1 cargo test -p orders --test flow`.

use std::collections::BTreeSet;
use std::path::Path;

use eventsource::registry::{FlowGraph, Registry};
// Linked for its registrations: the test names nothing else of it.
use orders as _;

const ORDER_EVENTS: [&str; 6] = [
    "orders.OrderPlaced",
    "orders.LineAdded",
    "orders.OrderSubmitted",
    "orders.OrderApproved",
    "orders.OrderShipped",
    "orders.OrderCancelled",
];

/// Every edge the orders application really has, written out by hand from
/// its code.
fn expected_edges() -> BTreeSet<(String, String)> {
    let mut edges = BTreeSet::new();
    let mut edge = |from: String, to: String| edges.insert((from, to));
    let command = |path: &str| format!("command:orders::{path}");
    let event = |name: &str| format!("event:{name}");
    for c in [
        "order::PlaceOrder",
        "order::AddLine",
        "order::SubmitOrder",
        "order::ApproveOrder",
        "order::ShipOrder",
        "order::CancelOrder",
    ] {
        edge(command(c), "aggregate:orders.Order".into());
    }
    for c in [
        "inventory::Restock",
        "inventory::ReserveInventory",
        "inventory::ReleaseInventory",
    ] {
        edge(command(c), "aggregate:orders.Warehouse".into());
    }
    edge(
        command("payment::TakePayment"),
        "aggregate:orders.Payment".into(),
    );
    for e in ORDER_EVENTS {
        edge("aggregate:orders.Order".into(), event(e));
        edge(event(e), "projection:orders.summary.memory".into());
        edge(event(e), "projection:orders.summary.postgres".into());
    }
    for e in [
        "orders.Restocked",
        "orders.InventoryReserved",
        "orders.InventoryReleased",
    ] {
        edge("aggregate:orders.Warehouse".into(), event(e));
    }
    for e in ["orders.PaymentTaken", "orders.PaymentFailed"] {
        edge("aggregate:orders.Payment".into(), event(e));
    }
    for e in [
        "orders.OrderSubmitted",
        "orders.InventoryReserved",
        "orders.PaymentTaken",
        "orders.PaymentFailed",
    ] {
        edge(event(e), "saga:orders.fulfilment".into());
    }
    for c in [
        "inventory::ReserveInventory",
        "payment::TakePayment",
        "order::ApproveOrder",
        "inventory::ReleaseInventory",
        "order::CancelOrder",
    ] {
        edge("saga:orders.fulfilment".into(), command(c));
    }
    edges
}

#[test]
fn the_graph_has_exactly_the_real_edges() {
    let graph = FlowGraph::of(Registry::global());
    let actual: BTreeSet<(String, String)> = graph
        .edge_pairs()
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    let expected = expected_edges();
    let missing: Vec<_> = expected.difference(&actual).collect();
    let extra: Vec<_> = actual.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing edges {missing:#?}\nedges that should not be there {extra:#?}"
    );
    assert!(graph.undeclared_sagas.is_empty());
    // Every node is on some edge: nothing registered floats alone.
    for node in &graph.nodes {
        assert!(
            expected.iter().any(|(a, b)| *a == node.id || *b == node.id),
            "{} is on no edge",
            node.id
        );
    }
}

#[test]
fn the_svg_is_well_formed_and_shows_every_node() {
    let graph = FlowGraph::of(Registry::global());
    let svg = graph.to_svg();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let texts: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| {
            n.descendants()
                .filter(|t| t.is_text())
                .filter_map(|t| t.text())
                .collect()
        })
        .collect();
    assert_eq!(graph.nodes.len(), 27);
    for node in &graph.nodes {
        let label = format!("{}: {}", node.kind.as_str(), node.name);
        assert!(texts.iter().any(|t| t.trim() == label), "{label} is drawn");
    }
}

#[test]
fn the_readme_shows_the_current_chart() {
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("the README");
    let (start, end) = ("<!-- orders-flow:start -->\n", "<!-- orders-flow:end -->");
    let from = readme.find(start).expect("the chart's start marker") + start.len();
    let to = readme[from..].find(end).expect("the chart's end marker") + from;
    let chart = format!(
        "```mermaid\n{}```\n",
        FlowGraph::of(Registry::global()).to_mermaid()
    );
    if std::env::var_os("EVENTSOURCE_BLESS").is_some() {
        let updated = format!("{}{chart}{}", &readme[..from], &readme[to..]);
        std::fs::write(&readme_path, updated).expect("the README is writable");
        return;
    }
    assert_eq!(
        &readme[from..to],
        chart,
        "the README's chart is out of date: run with EVENTSOURCE_BLESS=1"
    );
}

#[test]
fn the_committed_schema_lock_matches_the_events() {
    eventsource::testing::assert_schema_lock(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("events.lock.json"),
    );
}
