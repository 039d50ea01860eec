//! Archiving streams (`store::archive`): every event but a stream's last
//! moves, positions kept; global reads see archive and hot events in one
//! order; appends go on; deletes and truncations reach the archive.

use futures::TryStreamExt;

use crate::event::RecordedEvent;
use crate::store::ExpectedVersion::{Exact, NoStream};
use crate::store::{DeleteMode, EventFilter, EventStore};

use super::support::{
    Step, append, batch, ensure, expect_conflict, ids, increasing, read_all, read_stream, sent_ids,
    until_caught_up,
};
use super::{Outcome, Subject};

async fn archived_stream(
    store: &dyn EventStore,
    stream: &str,
    from: u64,
) -> Result<Vec<RecordedEvent>, String> {
    store
        .read_archived_stream(stream, from)
        .try_collect()
        .await
        .step(&format!("read_archived_stream(`{stream}`, {from})"))
}

async fn archive(store: &dyn EventStore, streams: &[&str]) -> Result<Vec<(String, u64)>, String> {
    let ids: Vec<String> = streams.iter().map(|s| (*s).to_owned()).collect();
    let done = store
        .archive_streams(&ids)
        .await
        .step(&format!("archive_streams({streams:?})"))?;
    Ok(done.into_iter().map(|a| (a.stream_id, a.moved)).collect())
}

/// Appends `a` (5 events) and `b` (3), interleaved in the log.
async fn two_streams(store: &dyn EventStore) -> Result<Vec<RecordedEvent>, String> {
    append(store, "a", NoStream, batch(1, 2)).await?;
    append(store, "b", NoStream, batch(10, 2)).await?;
    append(store, "a", Exact(2), batch(3, 3)).await?;
    append(store, "b", Exact(2), batch(13, 1)).await?;
    read_all(store, 0, EventFilter::all()).await
}

pub(super) async fn moves_all_but_the_last_and_keeps_positions(s: Subject) -> Outcome {
    let store = &*s.events;
    let before = two_streams(store).await?;
    let mut moved = archive(store, &["b", "a", "missing"]).await?;
    moved.sort();
    ensure!(
        moved == vec![("a".to_owned(), 4), ("b".to_owned(), 2)],
        "archiving `a` (5 events), `b` (3) and a missing stream moved {moved:?}"
    );
    let hot = read_stream(store, "a", 1).await?;
    ensure!(
        hot.len() == 1 && hot[0].stream_version == 5,
        "`a` reads {} hot events after archiving, expected its last (version 5)",
        hot.len()
    );
    let archived = archived_stream(store, "a", 1).await?;
    let want: Vec<&RecordedEvent> = before
        .iter()
        .filter(|e| &*e.stream_id == "a")
        .take(4)
        .collect();
    ensure!(
        archived.len() == 4 && archived.iter().zip(&want).all(|(a, w)| a == *w),
        "the archived events of `a` differ from the events appended: {} of 4",
        archived.len()
    );
    let from_three = archived_stream(store, "a", 3).await?;
    ensure!(
        from_three
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>()
            == vec![3, 4],
        "read_archived_stream(`a`, 3) gave versions {:?}",
        from_three
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>()
    );
    let after = read_all(store, 0, EventFilter::all()).await?;
    ensure!(
        after == before,
        "read_all after archiving gave {} events, expected the same {} in the same order",
        after.len(),
        before.len()
    );
    let only_b = read_all(
        store,
        0,
        EventFilter::all().with_aggregate_types([super::support::AGG]),
    )
    .await?;
    ensure!(
        only_b.len() == 8,
        "a filtered read_all gave {} of 8",
        only_b.len()
    );
    let count = store
        .count_events(0, EventFilter::all())
        .await
        .step("count_events")?;
    ensure!(
        count == 8,
        "count_events after archiving: {count}, expected 8"
    );
    let types = store.event_types().await.step("event_types")?;
    let counted: u64 = types.iter().map(|t| t.count).sum();
    ensure!(
        counted == 8,
        "event_types after archiving counts {counted} events, expected 8 (archived ones included)"
    );
    let version = store.stream_version("a").await.step("stream_version")?;
    ensure!(
        version == Some(5),
        "`a` reports version {version:?} after archiving"
    );
    let head = store.head_position().await.step("head_position")?;
    let last = before.last().map_or(0, |e| e.global_position);
    ensure!(
        head == last,
        "head position {head} after archiving, expected {last}"
    );
    let status = store.archive_status().await.step("archive_status")?;
    ensure!(
        status.events == 6 && status.streams == 2,
        "archive status {status:?}, expected 6 events of 2 streams"
    );
    let first = before[0].global_position;
    let range: Vec<RecordedEvent> = store
        .read_archive(first, last)
        .try_collect()
        .await
        .step("read_archive")?;
    increasing(&range)?;
    let archived_ids: Vec<uuid::Uuid> = before
        .iter()
        .filter(|e| {
            (&*e.stream_id == "a" && e.stream_version < 5)
                || (&*e.stream_id == "b" && e.stream_version < 3)
        })
        .map(|e| e.event_id)
        .collect();
    ensure!(
        ids(&range) == archived_ids,
        "read_archive over the whole log gave {} events, expected the 6 archived",
        range.len()
    );
    let again = archive(store, &["a", "b"]).await?;
    ensure!(
        again.iter().all(|(_, moved)| *moved == 0),
        "archiving the same streams again moved {again:?}"
    );
    Ok(())
}

pub(super) async fn appends_continue_after_archiving(s: Subject) -> Outcome {
    let store = &*s.events;
    two_streams(store).await?;
    archive(store, &["a"]).await?;
    expect_conflict(
        store
            .append("a", super::support::AGG, NoStream, batch(20, 1))
            .await,
        "a",
        NoStream,
        Some(5),
    )?;
    let more = batch(20, 2);
    let appended = append(store, "a", Exact(5), more.clone()).await?;
    ensure!(
        appended.first_version == 6,
        "an append to an archived stream took version {}, expected 6",
        appended.first_version
    );
    let hot = read_stream(store, "a", 1).await?;
    ensure!(
        hot.iter().map(|e| e.stream_version).collect::<Vec<_>>() == vec![5, 6, 7],
        "`a` reads versions {:?} hot, expected 5, 6 and 7",
        hot.iter().map(|e| e.stream_version).collect::<Vec<_>>()
    );
    let moved = archive(store, &["a"]).await?;
    ensure!(
        moved == vec![("a".to_owned(), 2)],
        "archiving `a` again after two appends moved {moved:?}, expected 2"
    );
    let archived = archived_stream(store, "a", 1).await?;
    ensure!(
        archived
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>()
            == (1..=6).collect::<Vec<_>>(),
        "the archive of `a` holds versions {:?}",
        archived
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>()
    );
    Ok(())
}

pub(super) async fn subscriptions_read_archive_and_hot_in_one_order(s: Subject) -> Outcome {
    let store = &*s.events;
    let before = two_streams(store).await?;
    archive(store, &["a", "b"]).await?;
    let head = before.last().map_or(0, |e| e.global_position);
    let mut sub = store.subscribe(0, EventFilter::all());
    let (seen, _) = until_caught_up(&mut sub, head).await?;
    ensure!(
        ids(&seen) == ids(&before),
        "a subscription from 0 after archiving delivered {} events, expected the {} stored, in order",
        seen.len(),
        before.len()
    );
    let from_middle = before[3].global_position;
    let mut sub = store.subscribe(from_middle, EventFilter::all());
    let (seen, _) = until_caught_up(&mut sub, head).await?;
    ensure!(
        ids(&seen) == ids(&before[3..]),
        "a subscription from position {from_middle} delivered {} events, expected {}",
        seen.len(),
        before.len() - 3
    );
    let live = batch(30, 1);
    append(store, "b", Exact(3), live.clone()).await?;
    let next = super::support::next_events(&mut sub, 1).await?;
    ensure!(
        ids(&next) == sent_ids(&live),
        "the subscription did not go on live after the archived history"
    );
    Ok(())
}

pub(super) async fn deletes_and_truncations_reach_the_archive(s: Subject) -> Outcome {
    let store = &*s.events;
    two_streams(store).await?;
    archive(store, &["a", "b"]).await?;
    let truncated = store
        .truncate_before("a", 3)
        .await
        .step("truncate `a` before 3")?;
    ensure!(
        truncated.removed == 2,
        "truncating archived `a` before 3 removed {}, expected 2",
        truncated.removed
    );
    let left = archived_stream(store, "a", 1).await?;
    ensure!(
        left.iter().map(|e| e.stream_version).collect::<Vec<_>>() == vec![3, 4],
        "the archive of `a` holds versions {:?} after the truncation",
        left.iter().map(|e| e.stream_version).collect::<Vec<_>>()
    );
    let deletion = store
        .delete_stream("b", DeleteMode::Hard)
        .await
        .step("hard delete of archived `b`")?;
    ensure!(
        deletion.removed == 3,
        "a hard delete of archived `b` removed {}, expected its 3 events",
        deletion.removed
    );
    ensure!(
        archived_stream(store, "b", 1).await?.is_empty(),
        "a hard delete left archived events of `b`"
    );
    let all = read_all(store, 0, EventFilter::all()).await?;
    let versions: Vec<(String, u64)> = all
        .iter()
        .map(|e| (e.stream_id.to_string(), e.stream_version))
        .collect();
    let want: Vec<(String, u64)> = vec![
        ("a".into(), 3),
        ("a".into(), 4),
        ("a".into(), 5),
        ("b".into(), 4),
    ];
    ensure!(
        versions == want,
        "read_all after truncation and delete gave {versions:?}, expected {want:?}"
    );
    let status = store.archive_status().await.step("archive_status")?;
    ensure!(
        status.events == 2,
        "the archive holds {} events, expected 2",
        status.events
    );
    Ok(())
}
