//! What a store holds, summarised for operators: its streams with their
//! heads, and the event names and schema versions it stores.

use crate::event::NewEvent;
use crate::store::ExpectedVersion::NoStream;
use crate::store::{EventFilter, StoredEventType, StreamQuery};

use super::support::{Step, append, batch, ensure, event, read_all};
use super::{Outcome, Subject};

/// Another aggregate type than the suite's own, for the type filter.
const OTHER: &str = "conformance.Other";

pub(super) async fn streams_are_listed_with_their_heads(s: Subject) -> Outcome {
    let store = &*s.events;
    append(store, "acct-2", NoStream, batch(1, 1)).await?;
    append(store, "acct-1", NoStream, batch(2, 2)).await?;
    store
        .append("other-1", OTHER, NoStream, batch(4, 3))
        .await
        .step("append to `other-1` as another aggregate type")?;
    // A prefix is literal text, not a pattern.
    append(store, "acct%_x", NoStream, batch(7, 1)).await?;
    let all = read_all(store, 0, EventFilter::all()).await?;
    let ids = |query: StreamQuery| async move {
        store
            .streams(&query)
            .await
            .map(|list| {
                list.into_iter()
                    .map(|s| (s.stream_id, s.version))
                    .collect::<Vec<_>>()
            })
            .step(&format!("streams({query:?})"))
    };
    let listed = store
        .streams(&StreamQuery::new(10))
        .await
        .step("streams(all)")?;
    let order: Vec<(&str, u64)> = listed
        .iter()
        .map(|s| (s.stream_id.as_str(), s.version))
        .collect();
    ensure!(
        order == [("acct%_x", 1), ("acct-1", 2), ("acct-2", 1), ("other-1", 3)],
        "streams are not listed by id with their versions: {order:?}"
    );
    for summary in &listed {
        let last = all
            .iter()
            .rfind(|e| *e.stream_id == *summary.stream_id)
            .ok_or_else(|| {
                format!(
                    "stream `{}` is listed but not in the log",
                    summary.stream_id
                )
            })?;
        ensure!(
            summary.last_position == last.global_position
                && summary.last_recorded_at == last.recorded_at
                && summary.aggregate_type == *last.aggregate_type,
            "stream `{}` is summarised as {summary:?}, its last event is at {} recorded {} as {}",
            summary.stream_id,
            last.global_position,
            last.recorded_at,
            last.aggregate_type
        );
    }
    let typed = ids(StreamQuery::new(10).with_aggregate_type(OTHER)).await?;
    ensure!(
        typed == [("other-1".to_owned(), 3)],
        "the aggregate type filter gave {typed:?}"
    );
    let prefixed = ids(StreamQuery::new(10).with_prefix("acct-")).await?;
    ensure!(
        prefixed == [("acct-1".to_owned(), 2), ("acct-2".to_owned(), 1)],
        "the prefix `acct-` gave {prefixed:?}"
    );
    let literal = ids(StreamQuery::new(10).with_prefix("acct%")).await?;
    ensure!(
        literal == [("acct%_x".to_owned(), 1)],
        "the prefix `acct%` was not taken literally: {literal:?}"
    );
    let page = ids(StreamQuery::new(2).after("acct-1")).await?;
    ensure!(
        page == [("acct-2".to_owned(), 1), ("other-1".to_owned(), 3)],
        "the page after `acct-1` gave {page:?}"
    );
    let none = ids(StreamQuery::new(0)).await?;
    ensure!(none.is_empty(), "a limit of 0 gave {none:?}");
    Ok(())
}

pub(super) async fn event_types_count_names_and_versions(s: Subject) -> Outcome {
    let store = &*s.events;
    let types = store
        .event_types()
        .await
        .step("event_types on an empty store")?;
    ensure!(types.is_empty(), "an empty store lists {types:?}");
    let at = |name: &str, version: u32, n: u64| {
        let e = event(name, n);
        NewEvent::new(name, version, e.payload, e.metadata)
    };
    append(
        store,
        "a",
        NoStream,
        vec![
            at("b.Second", 1, 1),
            at("a.First", 2, 2),
            at("a.First", 1, 3),
        ],
    )
    .await?;
    append(store, "b", NoStream, vec![at("a.First", 2, 4)]).await?;
    let all = read_all(store, 0, EventFilter::all()).await?;
    let p: Vec<u64> = all.iter().map(|e| e.global_position).collect();
    ensure!(p.len() == 4, "read back {} events of 4", p.len());
    let types = store.event_types().await.step("event_types")?;
    let expected = [
        StoredEventType {
            event_name: "a.First".into(),
            schema_version: 1,
            count: 1,
            first_position: p[2],
            last_position: p[2],
        },
        StoredEventType {
            event_name: "a.First".into(),
            schema_version: 2,
            count: 2,
            first_position: p[1],
            last_position: p[3],
        },
        StoredEventType {
            event_name: "b.Second".into(),
            schema_version: 1,
            count: 1,
            first_position: p[0],
            last_position: p[0],
        },
    ];
    ensure!(
        types == expected,
        "event_types gave {types:?}, expected {expected:?}"
    );
    Ok(())
}
