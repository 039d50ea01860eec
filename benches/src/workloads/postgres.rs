//! Workloads 3, 4 and 5, on PostgreSQL: placeholders until the PostgreSQL
//! store lands (phase 2).
//!
//! Phase 2 replaces each section with measurements: the harness finds a
//! server at `DATABASE_URL` or starts a throwaway one as `./scripts/test`
//! does, creates a fresh schema per workload, and interleaves each workload
//! with its raw-sqlx baseline (and with `postgres-es` for workload 6) through
//! `measure::compare`, exactly as the in-memory workloads do.

use crate::report::{Body, Section};

const WHY: &str = "It needs the PostgreSQL store (`eventsource-postgres`), which has not \
                   landed; the harness reports it here once it has.";

/// The PostgreSQL sections, not yet measured.
pub(crate) fn sections() -> Vec<Section> {
    vec![
        Section {
            number: "3",
            title: "PostgreSQL append",
            method: "Single-event appends from one task; batches of 100 events; 16 concurrent \
                     writers on distinct streams (single-event commands). Baseline: the same \
                     rows inserted with raw sqlx (multi-row insert or COPY). Targets: batched \
                     append ≥ 0.8 of the raw baseline (aim ≥ 50,000 events/s) and ≥ 3× \
                     postgres-es; ≥ 5,000 commands/s from 16 writers."
                .into(),
            body: Body::NotMeasured(WHY.into()),
        },
        Section {
            number: "4",
            title: "PostgreSQL load",
            method: "Load of a 10,000-event stream, with and without a snapshot.".into(),
            body: Body::NotMeasured(WHY.into()),
        },
        Section {
            number: "5",
            title: "Projection catch-up from PostgreSQL",
            method: "Catch-up into an in-memory read model against a raw streamed SELECT of the \
                     same rows. Target ≥ 0.7 of the raw read (aim ≥ 250,000 events/s)."
                .into(),
            body: Body::NotMeasured(WHY.into()),
        },
    ]
}
