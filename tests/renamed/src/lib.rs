//! A domain written against the runtime renamed to `es_renamed`, with
//! `crate = es_renamed` on every macro.

use es_renamed::prelude::*;
use serde::{Deserialize, Serialize};

/// A counter moved up.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "renamed.Counted", version = 2, aliases = ["renamed.Incremented"], crate = es_renamed)]
pub struct Counted {
    /// By how much.
    pub by: i64,
}

/// Version 1 had no amount: it always counted one.
#[upcaster(event = "renamed.Counted", from = 1, crate = es_renamed)]
fn counted_v1(_: serde_json::Value) -> Result<serde_json::Value, UpcastError> {
    Ok(serde_json::json!({ "by": 1 }))
}

/// A typed upcaster, to a type of this crate.
#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "renamed.Reset", version = 2, crate = es_renamed)]
pub struct Reset {
    /// Why.
    pub reason: String,
}

#[derive(Deserialize)]
struct ResetV1 {}

#[upcaster(event = "renamed.Reset", from = 1, crate = es_renamed)]
fn reset_v1(_: ResetV1) -> Reset {
    Reset {
        reason: "unknown".into(),
    }
}

/// Count up.
#[derive(Command, Clone)]
#[command(aggregate = Counter, crate = es_renamed)]
pub struct Count {
    /// The counter.
    #[aggregate_id]
    pub id: String,
    /// By how much.
    pub by: i64,
}

/// Reset.
#[derive(Command)]
#[command(aggregate = Counter, name = "renamed.Reset", crate = es_renamed)]
pub struct ResetCounter(#[aggregate_id] pub u32);

/// Why a command is rejected.
#[derive(Debug, PartialEq)]
pub struct NotCounting;

/// A counter.
#[derive(Aggregate, Default, Serialize, Deserialize, Debug)]
#[aggregate(name = "renamed.Counter", snapshot_every = 3, crate = es_renamed)]
pub struct Counter {
    /// The count.
    pub total: i64,
}

#[aggregate_impl(crate = es_renamed)]
impl Counter {
    #[command_handler(create_if_missing)]
    fn count(&self, cmd: Count, meta: &Metadata) -> Result<Vec<Counted>, NotCounting> {
        let _ = meta;
        if cmd.by == 0 {
            return Err(NotCounting);
        }
        Ok(vec![Counted { by: cmd.by }])
    }

    #[command_handler]
    fn reset(&self, _: &ResetCounter) -> Reset {
        Reset {
            reason: "asked".into(),
        }
    }

    #[event_sourcing_handler]
    fn on_counted(&mut self, e: &Counted) {
        self.total += e.by;
    }

    #[event_sourcing_handler]
    fn on_reset(&mut self, _: &Reset) {
        self.total = 0;
    }
}

/// The sum of every counter, kept in memory.
#[derive(Debug, Default)]
pub struct Totals {
    /// The sum.
    pub total: i64,
    /// How many times the read model was cleared.
    pub clears: u32,
}

#[projection(name = "renamed.totals", crate = es_renamed)]
impl Totals {
    async fn on_counted(&mut self, e: &Counted, meta: &RecordedEvent) -> Result<(), String> {
        if meta.schema_version == 0 {
            return Err("a record without a schema version".into());
        }
        self.total += e.by;
        Ok(())
    }

    fn on_reset(&mut self, _: &Reset) {
        self.total = 0;
    }

    #[reset]
    fn clear(&mut self) {
        self.total = 0;
        self.clears += 1;
    }
}

/// Counts one on counter `recounted` for every reset counter.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Recount {
    /// The reason of the reset.
    pub reason: String,
}

#[saga(name = "renamed.recount", dispatches = [Count], crate = es_renamed)]
impl Recount {
    #[start]
    async fn on_reset(&mut self, e: &Reset, ctx: &mut SagaContext<'_>) -> Result<(), String> {
        self.reason = e.reason.clone();
        ctx.dispatch(Count {
            id: "recounted".into(),
            by: 1,
        })
        .await
        .map_err(|e| format!("{e:?}"))?;
        ctx.complete();
        Ok(())
    }
}
