//! Rows corrupted by hand, each class in its own transaction so the row is
//! corrupt from the moment it becomes visible: the projection must park
//! every row it cannot decode (with the raw row and the reason), commit the
//! events around it, and stay live; a rebuild over the same rows must
//! complete, park them again and leave the read model whole.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Result, bail};
use eventsource::prelude::*;
use eventsource::projection::{ProjectionState, RunnerOptions};
use eventsource_postgres::PgEventStore;
use sqlx::{AssertSqlSafe, Row};

use super::{Ctx, Report};
use crate::domain::{AGGREGATE_TYPE, Deposited, PROJECTION, ReadModel};
use crate::ledger::{self, Counts};

const SCHEMA: &str = "corrupt";

/// A way to damage a stored row, and whether the projection sees the result
/// (an event renamed to a name it does not handle is filtered out unread).
struct Damage {
    name: &'static str,
    set: &'static str,
    seen: bool,
}

const DAMAGES: &[Damage] = &[
    Damage {
        name: "metadata is null",
        set: "metadata = 'null'",
        seen: true,
    },
    Damage {
        name: "metadata is an array",
        set: "metadata = '[1, 2]'",
        seen: true,
    },
    Damage {
        name: "causation id is not a UUID",
        set: r#"metadata = '{"causation_id": "not-a-uuid"}'"#,
        seen: true,
    },
    Damage {
        name: "header is not a string",
        set: r#"metadata = '{"headers": {"tenant": 7}}'"#,
        seen: true,
    },
    Damage {
        name: "payload does not fit the type",
        set: r#"payload = '{"writer": "seven"}'"#,
        seen: true,
    },
    Damage {
        name: "schema version newer than the code",
        set: "schema_version = 99",
        seen: true,
    },
    Damage {
        name: "schema version 0",
        set: "schema_version = 0",
        seen: true,
    },
    // The table's checks forbid these two; a hand-made schema, or a
    // migration script that dropped the checks, does not.
    Damage {
        name: "stream version 0 (its check dropped)",
        set: "stream_version = 0",
        seen: true,
    },
    Damage {
        name: "negative schema version (its check dropped)",
        set: "schema_version = -3",
        seen: true,
    },
    Damage {
        name: "unknown event name",
        set: "event_name = 'faults.Unknown'",
        seen: false,
    },
];

pub(super) async fn run(ctx: &mut Ctx) -> Result<Report> {
    let mut report = Report::default();
    let store = ctx.fresh_store(SCHEMA, |o| o).await?;
    let unchecked = format!(
        "ALTER TABLE \"{SCHEMA}\".events DROP CONSTRAINT events_stream_version_check, \
         DROP CONSTRAINT events_schema_version_check"
    );
    sqlx::query(AssertSqlSafe(unchecked))
        .execute(store.pool())
        .await?;
    let options = RunnerOptions::default()
        .with_batch_size(16)
        .with_max_retries(1)
        .with_retry_backoff(Duration::from_millis(10), Duration::from_millis(100))
        .with_lease_ttl(Duration::from_secs(2));
    let runner = ProjectionRunner::new(store.clone())?
        .with_dead_letters(store.dead_letters())
        .with_options(options);
    let model = ReadModel {
        schema: SCHEMA.into(),
        owner: "driver".into(),
        slow: Duration::ZERO,
    };
    runner.start(model, store.projection_backend()).await?;

    let mut seq = 0;
    good_events(&store, "before", 20, &mut seq).await?;
    let mut damaged = BTreeMap::new();
    for (i, damage) in DAMAGES.iter().enumerate() {
        let position = damaged_batch(&store, i, damage, &mut seq).await?;
        if damage.seen {
            damaged.insert(position, damage.name);
        }
    }
    good_events(&store, "after", 20, &mut seq).await?;

    // Live: everything after the damage is projected, the damage parked.
    let live = settle(ctx, &runner, &store).await;
    report.counts.add(check(ctx, &damaged, "live").await?);
    if let Err(error) = live {
        report.counts.other += 1;
        report.counts.problem(format!("live: {error}"));
    }

    // A rebuild over the same rows completes and leaves the same result.
    match tokio::time::timeout(Duration::from_secs(60), runner.rebuild(PROJECTION, |_| {})).await {
        Ok(Ok(progress)) => {
            report
                .notes
                .push(format!("rebuild replayed {} events", progress.done));
            let status = runner.status(PROJECTION).await?;
            if status.state != ProjectionState::Live {
                report.counts.other += 1;
                report.counts.problem(format!(
                    "rebuild returned with the projection {:?}, not live",
                    status.state
                ));
            }
        }
        Ok(Err(error)) => {
            report.counts.other += 1;
            report
                .counts
                .problem(format!("the rebuild failed: {error}"));
        }
        Err(_) => {
            report.counts.other += 1;
            report
                .counts
                .problem("the rebuild did not finish within 60 s");
        }
    }
    let rebuilt = settle(ctx, &runner, &store).await;
    report
        .counts
        .add(check(ctx, &damaged, "after the rebuild").await?);
    if let Err(error) = rebuilt {
        report.counts.other += 1;
        report.counts.problem(format!("after the rebuild: {error}"));
    }
    report.notes.push(format!(
        "{} damaged rows ({} the projection handles), live and through a rebuild",
        DAMAGES.len(),
        damaged.len()
    ));
    runner.shutdown().await;
    store.pool().close().await;
    Ok(report)
}

async fn good_events(store: &PgEventStore, tag: &str, count: u64, seq: &mut u64) -> Result<()> {
    for i in 0..count {
        *seq += 1;
        let event = NewEvent::from_event(
            &Deposited {
                writer: 0,
                seq: *seq,
                amount: 1,
            },
            Metadata::new(),
        )?;
        store
            .append(
                &format!("{tag}-{}", i % 4),
                AGGREGATE_TYPE,
                ExpectedVersion::Any,
                vec![event],
            )
            .await?;
    }
    Ok(())
}

/// Appends three events to a stream of their own and damages the middle
/// one in the same transaction; returns its position.
async fn damaged_batch(
    store: &PgEventStore,
    index: usize,
    damage: &Damage,
    seq: &mut u64,
) -> Result<u64> {
    let events: Vec<NewEvent> = (0..3)
        .map(|_| {
            *seq += 1;
            NewEvent::from_event(
                &Deposited {
                    writer: 0,
                    seq: *seq,
                    amount: 1,
                },
                Metadata::new(),
            )
        })
        .collect::<Result<_, _>>()?;
    let middle = events[1].event_id;
    let mut tx = store.pool().begin().await?;
    let stream = format!("damaged-{index}");
    store
        .append_in(
            &mut tx,
            &stream,
            AGGREGATE_TYPE,
            ExpectedVersion::NoStream,
            events,
        )
        .await?;
    let statement = format!(
        "UPDATE \"{SCHEMA}\".events SET {} WHERE event_id = $1 RETURNING global_position",
        damage.set
    );
    let row = sqlx::query(AssertSqlSafe(statement))
        .bind(middle)
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    store.wake_subscribers();
    Ok(u64::try_from(row.try_get::<i64, _>(0)?)?)
}

/// Waits until the projection is live at the head.
async fn settle(ctx: &Ctx, runner: &ProjectionRunner, store: &PgEventStore) -> Result<()> {
    let head = store.head_position().await?;
    match runner
        .wait_until(PROJECTION, head, Duration::from_secs(30))
        .await
    {
        Ok(()) => Ok(()),
        Err(error) => {
            let status = runner.status(PROJECTION).await?;
            bail!(
                "{error} (state {:?}, last error {:?}, checkpoint {:?})",
                status.state,
                status.last_error,
                ctx.checkpoint(SCHEMA).await?
            )
        }
    }
}

/// The read model holds every undamaged event the projection handles once,
/// and the dead letters hold exactly the damaged rows, raw row included.
async fn check(ctx: &Ctx, damaged: &BTreeMap<u64, &str>, when: &str) -> Result<Counts> {
    let stored = ledger::stored_events(&ctx.pool, SCHEMA).await?;
    let statement = format!(
        "SELECT global_position FROM \"{SCHEMA}\".events WHERE event_name = 'faults.Deposited'"
    );
    let handled: BTreeSet<u64> = sqlx::query(AssertSqlSafe(statement))
        .fetch_all(&ctx.pool)
        .await?
        .iter()
        .map(|r| Ok(u64::try_from(r.try_get::<i64, _>(0)?)?))
        .collect::<Result<_>>()?;
    let good: Vec<_> = stored
        .into_iter()
        .filter(|s| handled.contains(&s.position) && !damaged.contains_key(&s.position))
        .collect();
    let applied = ledger::read_model_rows(&ctx.pool, SCHEMA).await?;
    let mut counts = ledger::check_read_model(&good, &applied);
    counts.events = good.len() as u64;
    let parked: BTreeSet<u64> = ctx.parked_positions(SCHEMA).await?.into_iter().collect();
    let unparked: Vec<&str> = damaged
        .iter()
        .filter(|(position, _)| !parked.contains(position))
        .map(|(_, name)| *name)
        .collect();
    let wrongly = parked.iter().filter(|p| !damaged.contains_key(p)).count();
    if !unparked.is_empty() || wrongly > 0 {
        counts.other += (unparked.len() + wrongly) as u64;
        counts.problem(format!(
            "{when}: damaged rows not parked: {unparked:?}; {wrongly} undamaged event(s) parked"
        ));
    }
    let statement = format!(
        "SELECT count(*) FROM \"{SCHEMA}\".dead_letters WHERE projection = $1 \
         AND (error = '' OR payload = '' OR metadata = '')"
    );
    let without_raw: i64 = sqlx::query(AssertSqlSafe(statement))
        .bind(PROJECTION)
        .fetch_one(&ctx.pool)
        .await
        .and_then(|r| r.try_get(0))
        .unwrap_or(-1);
    if without_raw != 0 {
        counts.other += 1;
        counts.problem(format!(
            "{when}: parked rows lack the raw row or the reason ({without_raw}; -1: no such columns)"
        ));
    }
    Ok(counts)
}
