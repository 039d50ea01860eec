//! The flow graph: its nodes and edges, read from a registry.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::registry::checked::Registry;

/// What a node of the flow graph stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A command type.
    Command,
    /// An aggregate type.
    Aggregate,
    /// An event type (its stored name).
    Event,
    /// A projection.
    Projection,
    /// A saga.
    Saga,
}

impl NodeKind {
    /// The kind as written in ids and JSON: `command`, `aggregate`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Command => "command",
            Self::Aggregate => "aggregate",
            Self::Event => "event",
            Self::Projection => "projection",
            Self::Saga => "saga",
        }
    }
}

/// One node: a command, aggregate, event, projection or saga.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FlowNode {
    /// What it is.
    pub kind: NodeKind,
    /// Its registered name.
    pub name: String,
    /// A stable id, unique in the graph: the kind and the name.
    pub id: String,
}

impl FlowNode {
    pub(crate) fn new(kind: NodeKind, name: &str) -> Self {
        Self {
            kind,
            name: name.to_owned(),
            id: format!("{}:{name}", kind.as_str()),
        }
    }
}

/// One edge, between the ids of two nodes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FlowEdge {
    /// The id of the node it leaves.
    pub from: String,
    /// The id of the node it reaches.
    pub to: String,
}

/// The prefix of the names of the events the runtime itself registers.
const RUNTIME_EVENTS: &str = "eventsource.";

/// The event flow of an application.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowGraph {
    /// Every node, sorted by kind and name.
    pub nodes: Vec<FlowNode>,
    /// Every edge, sorted.
    pub edges: Vec<FlowEdge>,
    /// The sagas that do not declare the commands they dispatch: their
    /// outgoing edges are unknown, not absent.
    pub undeclared_sagas: Vec<String>,
}

impl FlowGraph {
    /// The flow graph of `registry`.
    pub fn of(registry: &Registry) -> Self {
        let parts = registry.parts();
        let mut nodes = BTreeSet::new();
        let mut edges = BTreeSet::new();
        let mut edge = |from: &FlowNode, to: &FlowNode| {
            edges.insert(FlowEdge {
                from: from.id.clone(),
                to: to.id.clone(),
            });
        };
        // Every event of the application, even one nothing emits or
        // handles; the runtime's own (the tombstone, `DeadlineReached`) only
        // where something handles them, since every program registers them.
        for event in registry.events() {
            if !event.name.starts_with(RUNTIME_EVENTS) {
                nodes.insert(FlowNode::new(NodeKind::Event, event.name));
            }
        }
        // Handlers name events by their current names; an alias still maps
        // to the event it stands for.
        let event_node = |name: &str| {
            let current = registry.event(name).map_or(name, |e| e.name);
            FlowNode::new(NodeKind::Event, current)
        };
        for aggregate in &parts.aggregates {
            let node = FlowNode::new(NodeKind::Aggregate, aggregate.name);
            for event in aggregate.events {
                let event = event_node(event);
                edge(&node, &event);
                nodes.insert(event);
            }
            nodes.insert(node);
        }
        for command in &parts.commands {
            let node = FlowNode::new(NodeKind::Command, command.name);
            let aggregate = FlowNode::new(NodeKind::Aggregate, command.aggregate);
            edge(&node, &aggregate);
            nodes.insert(aggregate);
            nodes.insert(node);
        }
        for projection in &parts.projections {
            let node = FlowNode::new(NodeKind::Projection, projection.name);
            for event in projection.events {
                let event = event_node(event);
                edge(&event, &node);
                nodes.insert(event);
            }
            nodes.insert(node);
        }
        let mut undeclared_sagas = Vec::new();
        for saga in &parts.sagas {
            let node = FlowNode::new(NodeKind::Saga, saga.name);
            for event in saga.events {
                let event = event_node(event);
                edge(&event, &node);
                nodes.insert(event);
            }
            match saga.dispatches {
                Some(commands) => {
                    for command in commands {
                        let command = FlowNode::new(NodeKind::Command, command);
                        edge(&node, &command);
                        nodes.insert(command);
                    }
                }
                None => undeclared_sagas.push(saga.name.to_owned()),
            }
            nodes.insert(node);
        }
        undeclared_sagas.sort();
        Self {
            nodes: nodes.into_iter().collect(),
            edges: edges.into_iter().collect(),
            undeclared_sagas,
        }
    }

    /// The node with id `id`.
    pub fn node(&self, id: &str) -> Option<&FlowNode> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The edges as `(from, to)` pairs of ids, for comparing with a list.
    pub fn edge_pairs(&self) -> BTreeSet<(&str, &str)> {
        self.edges
            .iter()
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect()
    }

    /// The graph as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // A tree of strings and lists: serializing it cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
