//! The event flow of an application, drawn from its registry: commands go
//! to aggregates, aggregates emit events, projections and sagas handle
//! events, and sagas dispatch commands (those they declare with
//! `#[saga(dispatches = [...])]`).
//!
//! The graph renders as Mermaid text ([`FlowGraph::to_mermaid`]), as SVG
//! laid out in process ([`FlowGraph::to_svg`]) and as JSON (it is
//! `Serialize`).
//!
//! ```
//! use eventsource::registry::{FlowGraph, Registry};
//!
//! let graph = FlowGraph::of(Registry::global());
//! assert!(graph.to_mermaid().starts_with("flowchart LR"));
//! let json = serde_json::to_value(&graph).expect("serializable");
//! assert!(json["nodes"].is_array());
//! ```

mod graph;
mod mermaid;
mod svg;

pub use graph::{FlowEdge, FlowGraph, FlowNode, NodeKind};
