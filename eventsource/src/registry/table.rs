//! A plain-text rendering of the registry, for logs and diagnostics.

use std::fmt::Write as _;

use super::entries::{EventRegistration, RegistryParts, UpcasterRegistration};
use super::problems::RegistryReport;

/// The table of `parts`, with the registry's indexed `events` and
/// `upcasters`, and its `report` if it found problems.
pub(super) fn render<'r>(
    parts: &RegistryParts,
    events: impl Iterator<Item = &'r EventRegistration>,
    upcasters: impl Iterator<Item = &'r UpcasterRegistration>,
    report: Option<RegistryReport>,
) -> String {
    let mut out = String::new();

    section(
        &mut out,
        "events",
        &["name", "version", "aliases", "type"],
        events.map(|e| {
            vec![
                e.name.to_owned(),
                e.version.to_string(),
                join(e.aliases),
                e.rust_type.to_owned(),
            ]
        }),
    );
    section(
        &mut out,
        "upcasters",
        &["event", "step", "function"],
        upcasters.map(|u| {
            vec![
                u.event.to_owned(),
                format!("{} -> {}", u.from, u.from + 1),
                u.function.to_owned(),
            ]
        }),
    );
    section(
        &mut out,
        "aggregates",
        &["name", "snapshot every", "events", "type"],
        parts.aggregates.iter().map(|a| {
            vec![
                a.name.to_owned(),
                a.snapshot_every
                    .map_or_else(|| "-".to_owned(), |n| n.to_string()),
                join(a.events),
                a.rust_type.to_owned(),
            ]
        }),
    );
    section(
        &mut out,
        "commands",
        &["name", "aggregate", "type"],
        parts.commands.iter().map(|c| {
            vec![
                c.name.to_owned(),
                c.aggregate.to_owned(),
                c.rust_type.to_owned(),
            ]
        }),
    );
    section(
        &mut out,
        "projections",
        &["name", "events", "type"],
        parts
            .projections
            .iter()
            .map(|p| vec![p.name.to_owned(), join(p.events), p.rust_type.to_owned()]),
    );
    section(
        &mut out,
        "sagas",
        &["name", "events", "type"],
        parts
            .sagas
            .iter()
            .map(|s| vec![s.name.to_owned(), join(s.events), s.rust_type.to_owned()]),
    );
    section(
        &mut out,
        "queries",
        &["name", "result", "type"],
        parts.queries.iter().map(|q| {
            vec![
                q.name.to_owned(),
                q.result.to_owned(),
                q.rust_type.to_owned(),
            ]
        }),
    );
    section(
        &mut out,
        "query handlers",
        &["query", "read model", "method"],
        parts.query_handlers.iter().map(|h| {
            vec![
                h.query.to_owned(),
                h.read_model.to_owned(),
                h.method.to_owned(),
            ]
        }),
    );
    if let Some(report) = report {
        let _ = writeln!(out, "{report}");
    }
    out
}

fn join(items: &[&str]) -> String {
    if items.is_empty() {
        "-".to_owned()
    } else {
        items.join(", ")
    }
}

fn section(
    out: &mut String,
    title: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) {
    let rows: Vec<Vec<String>> = rows.collect();
    let _ = writeln!(out, "{title} ({})", rows.len());
    if rows.is_empty() {
        out.push('\n');
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::from("  ");
        for (cell, width) in cells.zip(&widths) {
            let _ = write!(text, "{cell:<width$}  ");
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(out, &mut header.iter().copied());
    for row in &rows {
        line(out, &mut row.iter().map(String::as_str));
    }
    out.push('\n');
}
