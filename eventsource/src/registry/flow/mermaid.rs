//! The flow graph as a Mermaid flowchart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::graph::{FlowGraph, NodeKind};

impl FlowGraph {
    /// The graph as a Mermaid flowchart, left to right: each node shaped by
    /// its kind and given a short generated id (names may hold characters
    /// Mermaid ids cannot).
    pub fn to_mermaid(&self) -> String {
        render(self)
    }
}

fn render(graph: &FlowGraph) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut ids: BTreeMap<&str, String> = BTreeMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        let short = format!("{}{i}", prefix(node.kind));
        let label = escape(&node.name);
        let shape = match node.kind {
            NodeKind::Command => format!("{short}[/\"{label}\"/]"),
            NodeKind::Aggregate => format!("{short}[\"{label}\"]"),
            NodeKind::Event => format!("{short}([\"{label}\"])"),
            NodeKind::Projection => format!("{short}[(\"{label}\")]"),
            NodeKind::Saga => format!("{short}{{{{\"{label}\"}}}}"),
        };
        let _ = writeln!(out, "    {shape}");
        ids.insert(node.id.as_str(), short);
    }
    for edge in &graph.edges {
        if let (Some(from), Some(to)) = (ids.get(edge.from.as_str()), ids.get(edge.to.as_str())) {
            let _ = writeln!(out, "    {from} --> {to}");
        }
    }
    for kind in KINDS {
        let _ = writeln!(out, "    classDef {} {}", kind.as_str(), style(kind));
    }
    for kind in KINDS {
        let members: Vec<&str> = graph
            .nodes
            .iter()
            .filter(|n| n.kind == kind)
            .filter_map(|n| ids.get(n.id.as_str()).map(String::as_str))
            .collect();
        if !members.is_empty() {
            let _ = writeln!(out, "    class {} {}", members.join(","), kind.as_str());
        }
    }
    out
}

const KINDS: [NodeKind; 5] = [
    NodeKind::Command,
    NodeKind::Aggregate,
    NodeKind::Event,
    NodeKind::Projection,
    NodeKind::Saga,
];

/// The colours of a kind's nodes, the same as in the SVG.
fn style(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Command => "fill:#dbeafe,stroke:#1e40af",
        NodeKind::Aggregate => "fill:#fef3c7,stroke:#92400e",
        NodeKind::Event => "fill:#ffedd5,stroke:#c2410c",
        NodeKind::Projection => "fill:#dcfce7,stroke:#166534",
        NodeKind::Saga => "fill:#f3e8ff,stroke:#6b21a8",
    }
}

fn prefix(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Command => "c",
        NodeKind::Aggregate => "a",
        NodeKind::Event => "e",
        NodeKind::Projection => "p",
        NodeKind::Saga => "s",
    }
}

/// A label inside Mermaid's double quotes: a quote is written as its entity.
fn escape(name: &str) -> String {
    name.replace('"', "#quot;")
}
