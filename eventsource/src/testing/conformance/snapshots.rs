//! Snapshots: save, load, keep the higher version, delete.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta};

use crate::clock::Clock;
use crate::event::RecordedEvent;
use crate::store::ExpectedVersion::NoStream;
use crate::store::{Snapshot, SnapshotWanted, StreamLoad};

use super::reads::replayed;
use super::support::{AGG, Step, append, batch, ensure, read_stream, same_json};
use super::{Outcome, Subject};

fn snapshot(stream: &str, version: u64, balance: u64) -> Snapshot {
    Snapshot {
        stream_id: stream.into(),
        aggregate_type: AGG.into(),
        version,
        revision: 3,
        state: Arc::from(format!(r#"{{"balance":{balance},"owner":"Zoë"}}"#)),
        // Whole milliseconds, so a store keeping microseconds returns it exactly.
        taken_at: {
            let now = Clock::current().now();
            DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
        },
    }
}

fn same_snapshot(got: &Snapshot, want: &Snapshot) -> Outcome {
    ensure!(
        got.stream_id == want.stream_id
            && got.aggregate_type == want.aggregate_type
            && got.version == want.version
            && got.revision == want.revision,
        "loaded snapshot {got:?}, saved {want:?}"
    );
    ensure!(
        same_json(&got.state, &want.state),
        "loaded snapshot state {}, saved {}",
        got.state,
        want.state
    );
    ensure!(
        (got.taken_at - want.taken_at).abs() < TimeDelta::milliseconds(1),
        "loaded taken_at {}, saved {}",
        got.taken_at,
        want.taken_at
    );
    Ok(())
}

pub(super) async fn save_and_load(s: Subject) -> Outcome {
    let store = &*s.snapshots;
    ensure!(
        store.load("a").await.step("load")?.is_none(),
        "a fresh store has a snapshot of `a`"
    );
    let saved = snapshot("a", 10, 42);
    store.save(saved.clone()).await.step("save")?;
    store.save(snapshot("b", 3, 7)).await.step("save")?;
    let loaded = store.load("a").await.step("load")?;
    let Some(loaded) = loaded else {
        return Err("the saved snapshot of `a` did not load".into());
    };
    same_snapshot(&loaded, &saved)
}

pub(super) async fn keeps_the_higher_version(s: Subject) -> Outcome {
    let store = &*s.snapshots;
    let newer = snapshot("a", 20, 2);
    store.save(newer.clone()).await.step("save")?;
    store.save(snapshot("a", 10, 1)).await.step("save older")?;
    let loaded = store.load("a").await.step("load")?;
    ensure!(
        loaded
            .as_ref()
            .is_some_and(|l| same_snapshot(l, &newer).is_ok()),
        "an older snapshot replaced a newer one: loaded {loaded:?}"
    );
    let newest = snapshot("a", 30, 3);
    store.save(newest.clone()).await.step("save newer")?;
    let loaded = store.load("a").await.step("load")?;
    let Some(loaded) = loaded else {
        return Err("the snapshot of `a` vanished".into());
    };
    same_snapshot(&loaded, &newest)
}

pub(super) async fn delete_forgets(s: Subject) -> Outcome {
    let store = &*s.snapshots;
    store.save(snapshot("a", 5, 1)).await.step("save")?;
    store.save(snapshot("b", 5, 1)).await.step("save")?;
    store.delete("a").await.step("delete")?;
    ensure!(
        store.load("a").await.step("load")?.is_none(),
        "a deleted snapshot still loads"
    );
    ensure!(
        store.load("b").await.step("load")?.is_some(),
        "deleting `a` also deleted the snapshot of `b`"
    );
    store
        .delete("missing")
        .await
        .step("deleting a missing snapshot")?;
    // After a delete, any version may be saved again.
    let lower = snapshot("a", 1, 9);
    store.save(lower.clone()).await.step("save after delete")?;
    match store.load("a").await.step("load")? {
        Some(loaded) => same_snapshot(&loaded, &lower),
        None => Err("a snapshot saved after a delete did not load".into()),
    }
}

/// What a load given a snapshot and events together was offered.
struct Recorder {
    accept: bool,
    offered: Option<Snapshot>,
    events: Vec<RecordedEvent>,
}

impl StreamLoad for Recorder {
    fn snapshot(&mut self, snapshot: &Snapshot) -> bool {
        self.offered = Some(snapshot.clone());
        self.accept
    }

    fn events(&mut self, records: &[RecordedEvent]) -> bool {
        self.events.extend_from_slice(records);
        true
    }
}

pub(super) async fn one_read_of_snapshot_and_events_matches_two(s: Subject) -> Outcome {
    let Some(home) = s.snapshots.home() else {
        // Snapshots no event store reads with its events: nothing to check.
        return Ok(());
    };
    let events = &*s.events;
    append(events, "a", NoStream, batch(1, 10)).await?;
    append(events, "b", NoStream, batch(1, 3)).await?;
    s.snapshots.save(snapshot("a", 4, 7)).await.step("save")?;
    // A snapshot ahead of its stream's events (`c` has none).
    s.snapshots.save(snapshot("c", 2, 1)).await.step("save")?;
    let cases = [
        ("a", 3, u64::MAX, true),
        ("a", 3, 4, true),
        ("a", 3, 3, true),
        ("a", 4, u64::MAX, true),
        ("a", 3, u64::MAX, false),
        ("b", 3, u64::MAX, true),
        ("c", 3, u64::MAX, true),
        ("missing", 3, u64::MAX, true),
    ];
    for (stream, revision, max_version, accept) in cases {
        let mut load = Recorder {
            accept,
            offered: None,
            events: Vec::new(),
        };
        let case = format!("`{stream}`, revision {revision}, up to version {max_version}");
        let wanted = SnapshotWanted::new(revision, max_version);
        let read_together = events
            .visit_stream_after_snapshot(stream, &home, wanted, &mut load)
            .await
            .step(&format!("visit_stream_after_snapshot({case})"))?;
        if !read_together {
            // The event store does not keep these snapshots.
            return Ok(());
        }
        let kept = s
            .snapshots
            .load(stream)
            .await
            .step("load")?
            .filter(|k| k.revision == revision && k.version <= max_version);
        match (&load.offered, &kept) {
            (Some(offered), Some(kept)) => same_snapshot(offered, kept)?,
            (None, None) => {}
            (offered, kept) => {
                return Err(format!(
                    "{case}: offered the snapshot {offered:?}, the snapshot store has {kept:?}"
                ));
            }
        }
        let from = match &kept {
            Some(kept) if accept => kept.version + 1,
            _ => 1,
        };
        let expected: Vec<_> = read_stream(events, stream, from)
            .await?
            .iter()
            .filter(|e| e.stream_version <= max_version)
            .map(replayed)
            .collect();
        let lent: Vec<_> = load.events.iter().map(replayed).collect();
        ensure!(
            lent == expected,
            "{case}: lent {} events, expected the {} from version {from} to {max_version}",
            lent.len(),
            expected.len()
        );
    }
    Ok(())
}
