//! The flow graph laid out and drawn as SVG, in process, by `layout-rs`.

use layout::backends::svg::SVGWriter;
use layout::core::base::Orientation;
use layout::core::color::Color;
use layout::core::geometry::{get_size_for_str, pad_shape_scalar};
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::graph::{FlowGraph, NodeKind};

const FONT_SIZE: usize = 14;

impl FlowGraph {
    /// The graph laid out and drawn as an SVG document, left to right: each
    /// node a box (rounded for events and sagas) labelled with its kind and
    /// name.
    pub fn to_svg(&self) -> String {
        render(self)
    }
}

fn render(graph: &FlowGraph) -> String {
    if graph.nodes.is_empty() {
        // The layout engine needs at least one node.
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"0\" height=\"0\"></svg>\n"
            .to_owned();
    }
    let mut visual = VisualGraph::new(Orientation::LeftToRight);
    let handles: Vec<_> = graph
        .nodes
        .iter()
        .map(|node| {
            let label = format!("{}: {}", node.kind.as_str(), node.name);
            let size = pad_shape_scalar(get_size_for_str(&label, FONT_SIZE), 16.);
            let element = Element::create(
                ShapeKind::new_box(&label),
                look(node.kind),
                Orientation::LeftToRight,
                size,
            );
            (node.id.as_str(), visual.add_node(element))
        })
        .collect();
    let handle = |id: &str| handles.iter().find(|(i, _)| *i == id).map(|(_, h)| *h);
    for edge in &graph.edges {
        if let (Some(from), Some(to)) = (handle(&edge.from), handle(&edge.to)) {
            visual.add_edge(Arrow::simple(""), from, to);
        }
    }
    let mut writer = SVGWriter::new();
    visual.do_it(false, false, false, &mut writer);
    writer.finalize()
}

/// The colours of a kind's nodes, the same as in the Mermaid chart.
fn look(kind: NodeKind) -> StyleAttr {
    let (fill, line, rounded) = match kind {
        NodeKind::Command => (0xdbeafeff, 0x1e40afff, 0),
        NodeKind::Aggregate => (0xfef3c7ff, 0x92400eff, 0),
        NodeKind::Event => (0xffedd5ff, 0xc2410cff, 12),
        NodeKind::Projection => (0xdcfce7ff, 0x166534ff, 0),
        NodeKind::Saga => (0xf3e8ffff, 0x6b21a8ff, 6),
    };
    StyleAttr::new(
        Color::new(line),
        2,
        Some(Color::new(fill)),
        rounded,
        FONT_SIZE,
    )
}

#[cfg(test)]
mod tests {
    use super::super::graph::{FlowEdge, FlowNode};
    use super::*;

    #[test]
    fn every_node_is_drawn_and_the_document_parses() {
        let nodes = vec![
            FlowNode::new(NodeKind::Command, "Place<&>"),
            FlowNode::new(NodeKind::Aggregate, "Order"),
            FlowNode::new(NodeKind::Event, "order.placed"),
        ];
        let edges = vec![
            FlowEdge {
                from: nodes[0].id.clone(),
                to: nodes[1].id.clone(),
            },
            FlowEdge {
                from: nodes[1].id.clone(),
                to: nodes[2].id.clone(),
            },
        ];
        let graph = FlowGraph {
            nodes,
            edges,
            undeclared_sagas: Vec::new(),
        };
        let svg = render(&graph);
        let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
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
        for label in [
            "command: Place<&>",
            "aggregate: Order",
            "event: order.placed",
        ] {
            assert!(texts.iter().any(|t| t == label), "{label} in {texts:?}");
        }
        assert!(roxmltree::Document::parse(&render(&FlowGraph::default())).is_ok());
    }
}
