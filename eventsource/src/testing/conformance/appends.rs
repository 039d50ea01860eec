//! Appends: expected-version rules, contiguous versions, idempotency, errors.

use crate::store::ExpectedVersion::{Any, Exact, NoStream};
use crate::store::StoreError;

use super::support::{
    AGG, Step, append, batch, ensure, event, expect_conflict, ids, read_all, read_stream,
    same_event, sent_ids,
};
use super::{Outcome, Subject};

pub(super) async fn no_stream_creates_the_stream(s: Subject) -> Outcome {
    let store = &*s.events;
    ensure!(
        store
            .stream_version("a")
            .await
            .step("stream_version")?
            .is_none(),
        "a fresh store reports a version for stream `a`"
    );
    let r = append(store, "a", NoStream, batch(1, 3)).await?;
    ensure!(
        (r.first_version, r.last_version) == (1, 3),
        "NoStream append of 3 events got versions {}..={}, expected 1..=3",
        r.first_version,
        r.last_version
    );
    ensure!(!r.replayed, "a first append was reported as replayed");
    ensure!(
        0 < r.first_position && r.first_position < r.last_position,
        "positions of a 3-event batch are {}..={}",
        r.first_position,
        r.last_position
    );
    let version = store.stream_version("a").await.step("stream_version")?;
    ensure!(
        version == Some(3),
        "stream version is {version:?} after the append, expected Some(3)"
    );
    Ok(())
}

pub(super) async fn no_stream_conflicts_when_the_stream_exists(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 2)).await?;
    let second = store.append("a", AGG, NoStream, batch(3, 1)).await;
    expect_conflict(second, "a", NoStream, Some(2))?;
    let stored = read_stream(store, "a", 1).await?;
    ensure!(
        stored.len() == 2,
        "the conflicting append wrote events: stream has {}",
        stored.len()
    );
    Ok(())
}

pub(super) async fn exact_appends_at_the_matching_version(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 2)).await?;
    let r = append(store, "a", Exact(2), batch(3, 2)).await?;
    ensure!(
        (r.first_version, r.last_version) == (3, 4),
        "Exact(2) append of 2 events got versions {}..={}, expected 3..=4",
        r.first_version,
        r.last_version
    );
    let r = append(store, "a", Exact(4), batch(5, 1)).await?;
    ensure!(
        (r.first_version, r.last_version) == (5, 5),
        "Exact(4) append of 1 event got versions {}..={}",
        r.first_version,
        r.last_version
    );
    Ok(())
}

pub(super) async fn exact_conflict_reports_the_actual_version(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 3)).await?;
    for wrong in [0, 1, 2, 4, 100] {
        let result = store.append("a", AGG, Exact(wrong), batch(10, 1)).await;
        expect_conflict(result, "a", Exact(wrong), Some(3))?;
    }
    for wrong in [0, 1] {
        let result = store
            .append("missing", AGG, Exact(wrong), batch(10, 1))
            .await;
        expect_conflict(result, "missing", Exact(wrong), None)?;
    }
    let version = store.stream_version("a").await.step("stream_version")?;
    ensure!(
        version == Some(3),
        "conflicting appends changed the version to {version:?}"
    );
    let missing = store
        .stream_version("missing")
        .await
        .step("stream_version")?;
    ensure!(
        missing.is_none(),
        "a conflicting append created a stream (version {missing:?})"
    );
    Ok(())
}

pub(super) async fn any_appends_whatever_the_version(s: Subject) -> Outcome {
    let store = &*s.events;
    let r = append(store, "a", Any, batch(1, 2)).await?;
    ensure!(
        (r.first_version, r.last_version) == (1, 2),
        "Any on a new stream got versions {}..={}",
        r.first_version,
        r.last_version
    );
    let r = append(store, "a", Any, batch(3, 3)).await?;
    ensure!(
        (r.first_version, r.last_version) == (3, 5),
        "Any on a stream at 2 got versions {}..={}",
        r.first_version,
        r.last_version
    );
    Ok(())
}

pub(super) async fn versions_are_contiguous_and_fields_round_trip(s: Subject) -> Outcome {
    let store = &*s.events;
    let batches = [
        (NoStream, batch(1, 1)),
        (Exact(1), batch(2, 3)),
        (Any, batch(5, 1)),
        (Exact(5), batch(6, 5)),
    ];
    let mut sent = Vec::new();
    let mut results = Vec::new();
    for (expected, events) in batches {
        sent.extend(events.iter().cloned());
        results.push((events.len(), append(store, "a", expected, events).await?));
    }
    // Another stream in between must not disturb `a`'s versions.
    append(store, "b", NoStream, batch(100, 2)).await?;
    let stored = read_stream(store, "a", 1).await?;
    ensure!(
        stored.len() == sent.len(),
        "read {} events, appended {}",
        stored.len(),
        sent.len()
    );
    for (i, (stored, sent)) in stored.iter().zip(&sent).enumerate() {
        same_event(stored, sent)?;
        ensure!(
            stored.stream_version == i as u64 + 1,
            "event {} of stream `a` has version {}",
            i + 1,
            stored.stream_version
        );
        ensure!(
            &*stored.stream_id == "a" && &*stored.aggregate_type == AGG,
            "event {} reads back as stream `{}` of type `{}`",
            i + 1,
            stored.stream_id,
            stored.aggregate_type
        );
    }
    let mut at = 0;
    for (len, result) in results {
        let first = &stored[at];
        let last = &stored[at + len - 1];
        ensure!(
            (first.global_position, last.global_position)
                == (result.first_position, result.last_position),
            "append reported positions {}..={} but the events are at {}..={}",
            result.first_position,
            result.last_position,
            first.global_position,
            last.global_position
        );
        ensure!(
            (first.stream_version, last.stream_version)
                == (result.first_version, result.last_version),
            "append reported versions {}..={} but the events are at {}..={}",
            result.first_version,
            result.last_version,
            first.stream_version,
            last.stream_version
        );
        at += len;
    }
    super::support::increasing(&stored)
}

pub(super) async fn empty_batch_checks_the_expectation_and_writes_nothing(s: Subject) -> Outcome {
    let store = &*s.events;
    let r = append(store, "a", NoStream, Vec::new()).await?;
    ensure!(
        (r.first_version, r.last_version) == (0, 0),
        "an empty append to a missing stream reported versions {}..={}",
        r.first_version,
        r.last_version
    );
    let version = store.stream_version("a").await.step("stream_version")?;
    ensure!(
        version.is_none(),
        "an empty append created the stream (version {version:?})"
    );
    ensure!(
        store.head_position().await.step("head_position")? == 0,
        "an empty append moved the head"
    );
    append(store, "a", NoStream, batch(1, 2)).await?;
    for expected in [Exact(2), Any] {
        let r = append(store, "a", expected, Vec::new()).await?;
        ensure!(
            (r.first_version, r.last_version) == (2, 2),
            "an empty append expecting {expected} reported versions {}..={}, expected 2..=2",
            r.first_version,
            r.last_version
        );
    }
    for expected in [Exact(1), Exact(3), NoStream] {
        let result = store.append("a", AGG, expected, Vec::new()).await;
        expect_conflict(result, "a", expected, Some(2))?;
    }
    let stored = read_all(store, 0, Default::default()).await?;
    ensure!(
        stored.len() == 2,
        "the log holds {} events, expected 2",
        stored.len()
    );
    Ok(())
}

pub(super) async fn replayed_batch_is_idempotent(s: Subject) -> Outcome {
    let store = &*s.events;
    let first = batch(1, 3);
    let second = batch(4, 2);
    let original = append(store, "a", NoStream, first.clone()).await?;
    let later = append(store, "a", Exact(3), second.clone()).await?;
    // A client retrying after a lost reply sends the same batch with the same
    // expectation, which the stream no longer satisfies (or, with `Any`, would).
    let retries = [
        (NoStream, first.clone(), original),
        (Any, first.clone(), original),
        (Exact(0), first, original),
        (Exact(3), second.clone(), later),
        (Exact(5), second, later),
    ];
    for (expected, events, stored) in retries {
        let r = store
            .append("a", AGG, expected, events)
            .await
            .step(&format!("replay expecting {expected}"))?;
        ensure!(
            r.replayed,
            "a replay expecting {expected} was not reported as replayed: {r:?}"
        );
        ensure!(
            (
                r.first_version,
                r.last_version,
                r.first_position,
                r.last_position
            ) == (
                stored.first_version,
                stored.last_version,
                stored.first_position,
                stored.last_position
            ),
            "a replay expecting {expected} reported {r:?}, the original append {stored:?}"
        );
    }
    let all = read_all(store, 0, Default::default()).await?;
    ensure!(
        all.len() == 5,
        "after replays the log holds {} events, expected 5",
        all.len()
    );
    Ok(())
}

pub(super) async fn duplicate_event_ids_are_rejected(s: Subject) -> Outcome {
    let store = &*s.events;
    let stored = batch(1, 2);
    let (a, b) = (stored[0].clone(), stored[1].clone());
    append(store, "x", NoStream, stored).await?;
    let fresh = event("conformance.Happened", 3);
    let attempts = [
        (
            "y",
            vec![a.clone()],
            "a stored id appended to another stream",
        ),
        (
            "x",
            vec![a.clone(), fresh.clone()],
            "a stored id followed by a new one",
        ),
        (
            "x",
            vec![fresh.clone(), b.clone()],
            "a new id followed by a stored one",
        ),
        (
            "x",
            vec![b.clone(), a.clone()],
            "stored ids in another order",
        ),
    ];
    for (stream, events, what) in attempts {
        let batch_ids = sent_ids(&events);
        match store
            .append(stream, AGG, crate::ExpectedVersion::Any, events)
            .await
        {
            Err(StoreError::DuplicateEvent {
                stream_id,
                event_id,
                stored_stream,
                stored_version,
            }) => {
                ensure!(
                    &*stream_id == stream && batch_ids.contains(&event_id),
                    "{what}: DuplicateEvent names stream `{stream_id}` and event {event_id}"
                );
                let expected_at = if event_id == a.event_id { 1 } else { 2 };
                ensure!(
                    &*stored_stream == "x" && stored_version == expected_at,
                    "{what}: DuplicateEvent says event {event_id} is stored at `{stored_stream}` \
                     version {stored_version}, it is at `x` version {expected_at}"
                );
            }
            other => return Err(format!("{what}: expected DuplicateEvent, got {other:?}")),
        }
    }
    let all = read_all(store, 0, Default::default()).await?;
    ensure!(
        ids(&all) == vec![a.event_id, b.event_id],
        "rejected duplicates changed the log: {:?}",
        ids(&all)
    );
    let y = store.stream_version("y").await.step("stream_version")?;
    ensure!(
        y.is_none(),
        "a rejected batch created stream `y` (version {y:?})"
    );
    Ok(())
}

pub(super) async fn aggregate_type_is_fixed_per_stream(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "a", NoStream, batch(1, 1)).await?;
    for expected in [Any, Exact(1)] {
        match store
            .append("a", "conformance.Other", expected, batch(2, 1))
            .await
        {
            Err(StoreError::Invalid(_)) => {}
            other => {
                return Err(format!(
                    "appending to a stream of another aggregate type (expecting {expected}) \
                     should be Invalid, got {other:?}"
                ));
            }
        }
    }
    let stored = read_stream(store, "a", 1).await?;
    ensure!(stored.len() == 1, "a rejected append wrote to the stream");
    Ok(())
}

pub(super) async fn empty_stream_id_is_invalid(s: Subject) -> Outcome {
    let store = &*s.events;
    for expected in [Any, NoStream] {
        match store.append("", AGG, expected, batch(1, 1)).await {
            Err(StoreError::Invalid(_)) => {}
            other => {
                return Err(format!(
                    "an empty stream id should be Invalid, got {other:?}"
                ));
            }
        }
    }
    Ok(())
}

pub(super) async fn repeated_id_in_a_batch_is_invalid(s: Subject) -> Outcome {
    let store = &*s.events;
    let e = event("conformance.Happened", 1);
    let twice = vec![e.clone(), event("conformance.Happened", 2), e];
    match store.append("a", AGG, Any, twice).await {
        Err(StoreError::Invalid(_)) => {}
        other => {
            return Err(format!(
                "a batch repeating an event id should be Invalid, got {other:?}"
            ));
        }
    }
    let version = store.stream_version("a").await.step("stream_version")?;
    ensure!(
        version.is_none(),
        "the rejected batch created the stream (version {version:?})"
    );
    Ok(())
}
