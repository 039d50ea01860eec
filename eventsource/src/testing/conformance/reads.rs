//! Reads: a stream from a version, the global log from a position, filters.

use std::time::Duration;

use chrono::TimeDelta;

use crate::clock::Clock;
use crate::event::{NewEvent, RecordedEvent};
use crate::store::ExpectedVersion::{Any, NoStream};
use crate::store::{EventFilter, PartitionFilter, RecordFields, partition_of};

use super::support::{
    AGG, Step, append, batch, ensure, event, ids, increasing, read_all, read_stream, sent_ids,
};
use super::{Outcome, Subject};

pub(super) async fn read_stream_from_a_version(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 2)).await?;
    append(store, "b", NoStream, batch(10, 2)).await?;
    append(store, "a", Any, batch(3, 3)).await?;
    for (from, expected) in [(0, 1..=5), (1, 1..=5), (3, 3..=5), (5, 5..=5)] {
        let versions: Vec<u64> = read_stream(store, "a", from)
            .await?
            .iter()
            .map(|e| e.stream_version)
            .collect();
        let expected: Vec<u64> = expected.collect();
        ensure!(
            versions == expected,
            "read_stream(`a`, {from}) returned versions {versions:?}, expected {expected:?}"
        );
    }
    for from in [6, 1_000] {
        let past_end = read_stream(store, "a", from).await?;
        ensure!(
            past_end.is_empty(),
            "reading past the end from {from} returned events"
        );
    }
    ensure!(
        read_stream(store, "missing", 1).await?.is_empty(),
        "a missing stream returned events"
    );
    let b = read_stream(store, "b", 1).await?;
    ensure!(
        b.iter().all(|e| &*e.stream_id == "b") && b.len() == 2,
        "stream `b` read back {} events, some from other streams",
        b.len()
    );
    Ok(())
}

/// Appends interleaved batches to three streams, returning them in append order.
async fn interleaved(s: &Subject) -> Result<Vec<NewEvent>, String> {
    let mut sent = Vec::new();
    for round in 0..4u64 {
        for stream in ["a", "b", "c"] {
            let events = batch(round * 10 + 1, round % 3 + 1);
            sent.extend(events.iter().cloned());
            append(&*s.events, stream, Any, events).await?;
        }
    }
    Ok(sent)
}

pub(super) async fn read_all_is_in_global_order(s: Subject) -> Outcome {
    let sent = interleaved(&s).await?;
    let all = read_all(&*s.events, 0, EventFilter::all()).await?;
    ensure!(
        ids(&all) == sent_ids(&sent),
        "read_all does not return the events in the order they were appended"
    );
    increasing(&all)
}

pub(super) async fn read_all_from_a_position(s: Subject) -> Outcome {
    let sent = interleaved(&s).await?;
    let store = &*s.events;
    let all = read_all(store, 0, EventFilter::all()).await?;
    ensure!(
        all.len() == sent.len(),
        "read_all(0) returned {} of {}",
        all.len(),
        sent.len()
    );
    let from_one = read_all(store, 1, EventFilter::all()).await?;
    ensure!(
        ids(&from_one) == ids(&all),
        "read_all(1) differs from read_all(0)"
    );
    for k in [0, 1, all.len() / 2, all.len() - 1] {
        let at = all[k].global_position;
        let tail = read_all(store, at, EventFilter::all()).await?;
        ensure!(
            ids(&tail) == ids(&all[k..]),
            "read_all({at}) should start at the event stored there (index {k})"
        );
        let after = read_all(store, at + 1, EventFilter::all()).await?;
        ensure!(
            ids(&after) == ids(&all[k + 1..]),
            "read_all({}) should start just after the event at {at}",
            at + 1
        );
    }
    Ok(())
}

async fn filtered(s: &Subject, filter: EventFilter) -> Result<Vec<RecordedEvent>, String> {
    let events = read_all(&*s.events, 0, filter).await?;
    increasing(&events)?;
    Ok(events)
}

pub(super) async fn read_all_filters_by_event_name(s: Subject) -> Outcome {
    let store = &*s.events;
    let names = ["conformance.Red", "conformance.Green", "conformance.Blue"];
    let mut sent = Vec::new();
    for n in 0..9u64 {
        let e = event(names[(n % 3) as usize], n);
        sent.push(e.clone());
        append(store, &format!("s{}", n % 2), Any, vec![e]).await?;
    }
    let want = |keep: &[&str]| {
        sent.iter()
            .filter(|e| keep.contains(&&*e.event_name))
            .map(|e| e.event_id)
            .collect::<Vec<_>>()
    };
    for keep in [&names[..1], &names[1..], &["conformance.Unknown"][..]] {
        let got = filtered(
            &s,
            EventFilter::all().with_event_names(keep.iter().copied()),
        )
        .await?;
        ensure!(
            ids(&got) == want(keep),
            "filtering by names {keep:?} returned the wrong events"
        );
    }
    Ok(())
}

pub(super) async fn read_all_filters_by_aggregate_type(s: Subject) -> Outcome {
    let store = &*s.events;
    let types = ["conformance.A", "conformance.B"];
    let mut sent = Vec::new();
    for n in 0..8u64 {
        let ty = types[(n % 2) as usize];
        let events = batch(n * 10, 2);
        sent.extend(events.iter().map(|e| (ty, e.event_id)));
        store
            .append(&format!("{ty}-{}", n % 3), ty, Any, events)
            .await
            .step("append")?;
    }
    for keep in [&types[..1], &types[1..], &types[..]] {
        let want: Vec<_> = sent
            .iter()
            .filter(|(ty, _)| keep.contains(ty))
            .map(|(_, id)| *id)
            .collect();
        let got = filtered(
            &s,
            EventFilter::all().with_aggregate_types(keep.iter().copied()),
        )
        .await?;
        ensure!(
            ids(&got) == want,
            "filtering by aggregate types {keep:?} returned the wrong events"
        );
        ensure!(
            got.iter().all(|e| keep.contains(&&*e.aggregate_type)),
            "filtered events carry the wrong aggregate type"
        );
    }
    Ok(())
}

pub(super) async fn read_all_filters_by_recorded_time(s: Subject) -> Outcome {
    let store = &*s.events;
    let mut sent = Vec::new();
    for n in 0..3u64 {
        if n > 0 {
            // Distinct recording times, whatever the store's clock resolution.
            Clock::current().sleep(Duration::from_millis(20)).await;
        }
        let events = batch(n * 10, 2);
        sent.push(sent_ids(&events));
        append(store, "a", Any, events).await?;
    }
    let all = read_all(store, 0, EventFilter::all()).await?;
    ensure!(all.len() == 6, "expected 6 events, read {}", all.len());
    // The store's own clock decides; take the boundary from what it recorded.
    let since = all[2].recorded_at;
    ensure!(
        all[1].recorded_at < since,
        "events appended 20 ms apart share a recording time ({} and {})",
        all[1].recorded_at,
        since
    );
    let got = filtered(&s, EventFilter::all().with_recorded_since(since)).await?;
    ensure!(
        ids(&got) == ids(&all[2..]),
        "filtering from {since} returned {} events, expected the last 4",
        got.len()
    );
    let past = Clock::current().now() - TimeDelta::days(365);
    let got = filtered(&s, EventFilter::all().with_recorded_since(past)).await?;
    ensure!(
        got.len() == 6,
        "filtering from a year ago returned {} events",
        got.len()
    );
    let future = Clock::current().now() + TimeDelta::days(365);
    let got = filtered(&s, EventFilter::all().with_recorded_since(future)).await?;
    ensure!(
        got.is_empty(),
        "filtering from next year returned {} events",
        got.len()
    );
    Ok(())
}

pub(super) async fn read_all_combines_filters(s: Subject) -> Outcome {
    let store = &*s.events;
    let mut sent = Vec::new();
    for n in 0..12u64 {
        let ty = if n % 2 == 0 {
            "conformance.A"
        } else {
            "conformance.B"
        };
        let name = if n % 3 == 0 {
            "conformance.Red"
        } else {
            "conformance.Blue"
        };
        let e = event(name, n);
        sent.push((ty, name, e.event_id));
        store
            .append(&format!("{ty}-{}", n % 4), ty, Any, vec![e])
            .await
            .step("append")?;
    }
    let filter = EventFilter::all()
        .with_aggregate_types(["conformance.A"])
        .with_event_names(["conformance.Red"]);
    let want: Vec<_> = sent
        .iter()
        .filter(|(ty, name, _)| *ty == "conformance.A" && *name == "conformance.Red")
        .map(|(_, _, id)| *id)
        .collect();
    let got = filtered(&s, filter.clone()).await?;
    ensure!(
        ids(&got) == want,
        "combined filters returned the wrong events"
    );
    let from = got.last().map_or(0, |e| e.global_position);
    let tail = read_all(store, from, filter).await?;
    ensure!(
        ids(&tail) == want[want.len() - 1..],
        "a filtered read from a position returned the wrong events"
    );
    Ok(())
}

/// Partition filters split the log by stream, each event in the partition
/// of its stream's stable hash, and count what they read.
pub(super) async fn read_all_filters_by_partition(s: Subject) -> Outcome {
    let store = &*s.events;
    let count = 3;
    let mut sent = Vec::new();
    for n in 0..24u64 {
        let stream = format!("part-{}", n % 8);
        let e = event("conformance.Happened", n);
        sent.push((stream.clone(), e.event_id));
        append(store, &stream, Any, vec![e]).await?;
    }
    let mut seen = 0;
    for index in 0..count {
        let partition = PartitionFilter::new(index, count).map_err(|e| e.to_string())?;
        let filter = EventFilter::all().with_partition(partition);
        let got = filtered(&s, filter.clone()).await?;
        let want: Vec<_> = sent
            .iter()
            .filter(|(stream, _)| partition_of(stream, count) == index)
            .map(|(_, id)| *id)
            .collect();
        ensure!(
            ids(&got) == want,
            "partition {partition} returned {} events, expected {}",
            got.len(),
            want.len()
        );
        let counted = store.count_events(1, filter).await.step("count_events")?;
        ensure!(
            counted == want.len() as u64,
            "partition {partition} counts {counted} events, reads {}",
            want.len()
        );
        seen += got.len();
    }
    ensure!(
        seen == sent.len(),
        "the partitions read {seen} events of {}",
        sent.len()
    );
    Ok(())
}

pub(super) async fn head_position_and_stream_version(s: Subject) -> Outcome {
    let store = &*s.events;
    ensure!(
        store.head_position().await.step("head_position")? == 0,
        "an empty store's head is not 0"
    );
    let a = append(store, "a", NoStream, batch(1, 2)).await?;
    let head = store.head_position().await.step("head_position")?;
    ensure!(
        head == a.last_position,
        "head is {head} after appending up to {}",
        a.last_position
    );
    let b = store
        .append("b", AGG, NoStream, batch(3, 4))
        .await
        .step("append")?;
    let head = store.head_position().await.step("head_position")?;
    ensure!(
        head == b.last_position,
        "head is {head} after appending up to {}",
        b.last_position
    );
    for (stream, version) in [("a", Some(2)), ("b", Some(4)), ("c", None)] {
        let got = store.stream_version(stream).await.step("stream_version")?;
        ensure!(
            got == version,
            "stream `{stream}` is at {got:?}, expected {version:?}"
        );
    }
    Ok(())
}

/// The fields every stream read fills in, whatever it was asked for.
pub(super) fn replayed(e: &RecordedEvent) -> (String, u64, u64, u32, String, String) {
    (
        e.stream_id.to_string(),
        e.stream_version,
        e.global_position,
        e.schema_version,
        e.event_name.to_string(),
        e.payload.to_string(),
    )
}

pub(super) async fn visit_with_replay_fields_lends_the_same_events(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 3)).await?;
    append(store, "b", NoStream, batch(10, 2)).await?;
    append(store, "a", Any, batch(4, 300)).await?;
    for from in [0, 1, 2, 256, 303, 304] {
        let full: Vec<_> = read_stream(store, "a", from)
            .await?
            .iter()
            .map(replayed)
            .collect();
        for fields in [RecordFields::REPLAY, RecordFields::ALL] {
            let mut lent = Vec::new();
            store
                .visit_stream_with("a", from, fields, &mut |records: &[RecordedEvent]| {
                    lent.extend(records.iter().map(replayed));
                    true
                })
                .await
                .step(&format!("visit_stream_with(`a`, {from}, {fields:?})"))?;
            ensure!(
                lent == full,
                "visit_stream_with(`a`, {from}, {fields:?}) lent {} events, read_stream \
                 returned {}, or they differ",
                lent.len(),
                full.len()
            );
        }
    }
    // The fields asked for are filled in.
    let stored = read_stream(store, "a", 1).await?;
    let mut lent = Vec::new();
    store
        .visit_stream_with(
            "a",
            1,
            RecordFields::ALL,
            &mut |records: &[RecordedEvent]| {
                lent.extend_from_slice(records);
                true
            },
        )
        .await
        .step("visit_stream_with(`a`, 1, ALL)")?;
    ensure!(
        lent == stored,
        "visit_stream_with(ALL) lent other records than read_stream returned"
    );
    // A visitor that stops is not called again.
    let mut calls = 0;
    store
        .visit_stream_with(
            "a",
            1,
            RecordFields::REPLAY,
            &mut |_: &[RecordedEvent]| {
                calls += 1;
                false
            },
        )
        .await
        .step("a stopped visit")?;
    ensure!(
        calls == 1,
        "a visitor that stopped was called {calls} times"
    );
    let mut missing = 0;
    store
        .visit_stream_with(
            "missing",
            1,
            RecordFields::REPLAY,
            &mut |r: &[RecordedEvent]| {
                missing += r.len();
                true
            },
        )
        .await
        .step("visiting a missing stream")?;
    ensure!(missing == 0, "a missing stream lent {missing} events");
    Ok(())
}
