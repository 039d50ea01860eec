//! Deleting, recreating and truncating streams (`store::lifecycle`): the
//! tombstone, typed refusals, removed events gone from every read, and
//! subscribers told without waiting on a removed position.

use std::sync::Arc;

use crate::clock::Clock;
use crate::event::RecordedEvent;
use crate::store::ExpectedVersion::{Any, Exact, NoStream};
use crate::store::{DeleteMode, EventFilter, Snapshot, StoreError, StreamDeleted, TOMBSTONE};

use super::support::{
    AGG, Step, append, batch, ensure, ids, next_events, read_all, read_stream, sent_ids,
    until_caught_up,
};
use super::{Outcome, Subject};

/// Checks that `record` is the tombstone of `stream` after `last_version`.
fn is_tombstone(record: &RecordedEvent, stream: &str, mode: DeleteMode, last: u64) -> Outcome {
    ensure!(
        &*record.event_name == TOMBSTONE,
        "the last event of `{stream}` is `{}`, not the tombstone",
        record.event_name
    );
    let tombstone: StreamDeleted = serde_json::from_str(&record.payload).map_err(|e| {
        format!(
            "the tombstone's payload {} does not decode: {e}",
            record.payload
        )
    })?;
    let want = StreamDeleted {
        stream_id: stream.to_owned(),
        aggregate_type: AGG.to_owned(),
        mode,
        last_version: last,
    };
    ensure!(
        tombstone == want,
        "tombstone {tombstone:?}, expected {want:?}"
    );
    ensure!(
        record.stream_version == last + 1,
        "the tombstone has version {}, expected {}",
        record.stream_version,
        last + 1
    );
    Ok(())
}

fn expect_deleted<T: std::fmt::Debug>(result: Result<T, StoreError>, what: &str) -> Outcome {
    match result {
        Err(StoreError::StreamDeleted { .. }) => Ok(()),
        other => Err(format!(
            "{what} should be refused as StreamDeleted, got {other:?}"
        )),
    }
}

pub(super) async fn soft_delete_keeps_events_and_refuses_appends(s: Subject) -> Outcome {
    let store = &*s.events;
    let sent = batch(1, 3);
    append(store, "a", NoStream, sent.clone()).await?;
    let deletion = store
        .delete_stream("a", DeleteMode::Soft)
        .await
        .step("soft delete of `a`")?;
    ensure!(
        deletion.tombstone_version == 4 && deletion.removed == 0,
        "a soft delete of 3 events answered {deletion:?}"
    );
    let events = read_stream(store, "a", 1).await?;
    ensure!(
        events.len() == 4,
        "read {} events of `a`, expected 3 and the tombstone",
        events.len()
    );
    ensure!(
        ids(&events[..3]) == sent_ids(&sent),
        "a soft delete changed the events"
    );
    is_tombstone(&events[3], "a", DeleteMode::Soft, 3)?;
    ensure!(
        events[3].global_position == deletion.tombstone_position,
        "the tombstone is at {}, the delete said {}",
        events[3].global_position,
        deletion.tombstone_position
    );
    expect_deleted(
        store.append("a", AGG, Any, batch(4, 1)).await,
        "an append to `a`",
    )?;
    expect_deleted(
        store.append("a", AGG, Exact(4), batch(4, 1)).await,
        "an append to `a` at its version",
    )?;
    expect_deleted(
        store.delete_stream("a", DeleteMode::Soft).await,
        "a second soft delete",
    )?;
    expect_deleted(store.truncate_before("a", 2).await, "a truncation of `a`")?;
    let version = store.stream_version("a").await.step("stream_version")?;
    ensure!(
        version == Some(4),
        "a soft-deleted stream reports version {version:?}"
    );
    Ok(())
}

pub(super) async fn hard_delete_removes_events_and_tells_subscribers(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 3)).await?;
    let kept = batch(10, 2);
    let before = append(store, "b", NoStream, kept.clone()).await?;
    s.snapshots
        .save(Snapshot {
            stream_id: "a".into(),
            aggregate_type: AGG.into(),
            version: 3,
            revision: 1,
            state: Arc::from("{}"),
            taken_at: Clock::current().now(),
        })
        .await
        .step("save a snapshot of `a`")?;
    let mut sub = store.subscribe(0, EventFilter::all());
    let (seen, _) = until_caught_up(&mut sub, before.last_position).await?;
    ensure!(
        seen.len() == 5,
        "the subscription replayed {} of 5 events",
        seen.len()
    );

    let deletion = store
        .delete_stream("a", DeleteMode::Hard)
        .await
        .step("hard delete of `a`")?;
    ensure!(
        deletion.removed == 3 && deletion.tombstone_version == 4,
        "a hard delete of 3 events answered {deletion:?}"
    );
    let told = next_events(&mut sub, 1).await?;
    is_tombstone(&told[0], "a", DeleteMode::Hard, 3)?;

    let left = read_stream(store, "a", 1).await?;
    ensure!(
        left.len() == 1,
        "`a` still holds {} records after a hard delete",
        left.len()
    );
    is_tombstone(&left[0], "a", DeleteMode::Hard, 3)?;
    let all = read_all(store, 0, EventFilter::all()).await?;
    let mut want = sent_ids(&kept);
    want.push(left[0].event_id);
    ensure!(
        ids(&all) == want,
        "read_all after the hard delete gave {} records, expected `b`'s 2 and the tombstone",
        all.len()
    );
    let count = store
        .count_events(0, EventFilter::all())
        .await
        .step("count_events")?;
    ensure!(
        count == 3,
        "count_events after the hard delete: {count}, expected 3"
    );
    let snapshot = s.snapshots.load("a").await.step("load snapshot")?;
    ensure!(snapshot.is_none(), "a hard delete kept the snapshot of `a`");

    // Removed positions are no gap a subscriber waits on.
    let live = batch(20, 1);
    let appended = append(store, "b", Exact(2), live.clone()).await?;
    let next = next_events(&mut sub, 1).await?;
    ensure!(
        ids(&next) == sent_ids(&live),
        "after a hard delete the subscription did not deliver the next append"
    );
    let mut fresh = store.subscribe(0, EventFilter::all());
    let (replayed, _) = until_caught_up(&mut fresh, appended.last_position).await?;
    ensure!(
        replayed.len() == 4,
        "a new subscription replayed {} records, expected 4 (`b`'s 3 and the tombstone)",
        replayed.len()
    );
    let head = store.head_position().await.step("head_position")?;
    ensure!(
        head == appended.last_position,
        "head position {head}, expected {}",
        appended.last_position
    );
    Ok(())
}

pub(super) async fn hard_delete_after_soft_removes_the_rest(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 3)).await?;
    let soft = store
        .delete_stream("a", DeleteMode::Soft)
        .await
        .step("soft delete")?;
    let hard = store
        .delete_stream("a", DeleteMode::Hard)
        .await
        .step("hard delete after a soft one")?;
    ensure!(
        hard.removed == 3
            && hard.tombstone_version == soft.tombstone_version
            && hard.tombstone_position == soft.tombstone_position,
        "a hard delete after a soft one answered {hard:?} (the soft one {soft:?})"
    );
    let left = read_stream(store, "a", 1).await?;
    ensure!(
        left.len() == 1,
        "`a` holds {} records, expected the tombstone alone",
        left.len()
    );
    expect_deleted(
        store.delete_stream("a", DeleteMode::Hard).await,
        "a second hard delete",
    )
}

pub(super) async fn missing_streams_are_typed_errors(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 1)).await?;
    let missing = |r: Result<String, StoreError>, what: &str| -> Outcome {
        match r {
            Err(StoreError::StreamNotFound { stream_id }) if &*stream_id == "nope" => Ok(()),
            other => Err(format!("{what} of a missing stream answered {other:?}")),
        }
    };
    for mode in [DeleteMode::Soft, DeleteMode::Hard] {
        let r = store.delete_stream("nope", mode).await;
        missing(r.map(|d| format!("{d:?}")), &format!("a {mode} delete"))?;
    }
    let r = store.truncate_before("nope", 1).await;
    missing(r.map(|t| format!("{t:?}")), "a truncation")?;
    let r = store.recreate_stream("nope").await;
    missing(r.map(|n| n.to_string()), "a recreate")?;
    match store.recreate_stream("a").await {
        Err(StoreError::StreamNotDeleted { stream_id }) if &*stream_id == "a" => {}
        other => return Err(format!("a recreate of a live stream answered {other:?}")),
    }
    let events = read_stream(store, "a", 1).await?;
    ensure!(
        events.len() == 1,
        "refused requests changed `a`: {} events",
        events.len()
    );
    Ok(())
}

pub(super) async fn recreate_starts_the_stream_again(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 2)).await?;
    let kept = batch(5, 1);
    append(store, "b", NoStream, kept.clone()).await?;
    store
        .delete_stream("a", DeleteMode::Soft)
        .await
        .step("soft delete")?;
    let removed = store.recreate_stream("a").await.step("recreate")?;
    ensure!(
        removed == 3,
        "a recreate removed {removed} records, expected 3"
    );
    let version = store.stream_version("a").await.step("stream_version")?;
    ensure!(
        version.is_none(),
        "a recreated stream reports version {version:?}"
    );
    let again = batch(7, 1);
    let stored = append(store, "a", NoStream, again.clone()).await?;
    ensure!(
        stored.last_version == 1,
        "the recreated stream restarts at {}",
        stored.last_version
    );
    let all = read_all(store, 0, EventFilter::all()).await?;
    let mut want = sent_ids(&kept);
    want.extend(sent_ids(&again));
    ensure!(
        ids(&all) == want,
        "read_all after a recreate holds {} records",
        all.len()
    );
    Ok(())
}

pub(super) async fn truncate_keeps_the_tail(s: Subject) -> Outcome {
    let store = &*s.events;
    let sent = batch(1, 5);
    let stored = append(store, "a", NoStream, sent.clone()).await?;
    let truncation = store
        .truncate_before("a", 3)
        .await
        .step("truncate_before(3)")?;
    ensure!(
        truncation.removed == 2 && truncation.first_kept_version == 3,
        "truncating 5 events before 3 answered {truncation:?}"
    );
    let events = read_stream(store, "a", 1).await?;
    ensure!(
        ids(&events) == sent_ids(&sent[2..]),
        "after truncation `a` reads {} events",
        events.len()
    );
    let from_two = read_stream(store, "a", 2).await?;
    ensure!(
        from_two.len() == 3,
        "reading `a` from version 2 gave {} events",
        from_two.len()
    );
    let from_four = read_stream(store, "a", 4).await?;
    ensure!(
        from_four.first().map(|e| e.stream_version) == Some(4) && from_four.len() == 2,
        "reading `a` from version 4 after truncation went wrong"
    );
    let version = store.stream_version("a").await.step("stream_version")?;
    ensure!(
        version == Some(5),
        "truncation changed the version to {version:?}"
    );
    let head = store.head_position().await.step("head_position")?;
    ensure!(
        head == stored.last_position,
        "truncation moved the head to {head}"
    );
    let all = read_all(store, 0, EventFilter::all()).await?;
    ensure!(
        all.len() == 3,
        "read_all after truncation gave {} events",
        all.len()
    );
    let more = append(store, "a", Exact(5), batch(6, 1)).await?;
    ensure!(
        more.last_version == 6,
        "an append after truncation got version {}",
        more.last_version
    );
    match store.truncate_before("a", 7).await {
        Err(StoreError::TruncateBeyondHead {
            before: 7, head: 6, ..
        }) => {}
        other => return Err(format!("truncating past the head answered {other:?}")),
    }
    let again = read_stream(store, "a", 1).await?;
    ensure!(
        again.len() == 4,
        "a refused truncation changed `a`: {} events",
        again.len()
    );
    let none = store.truncate_before("a", 3).await.step("truncate again")?;
    ensure!(
        none.removed == 0,
        "truncating again removed {}",
        none.removed
    );
    Ok(())
}
