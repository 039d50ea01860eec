//! Subscriptions: history then live, `CaughtUp`, filters, resuming.

use std::collections::{HashMap, HashSet};

use crate::store::ExpectedVersion::{Any, NoStream};
use crate::store::{EventFilter, SubscriptionItem};

use super::support::{
    Step, append, batch, ensure, event, ids, increasing, next_events, next_item, sent_ids,
    until_caught_up,
};
use super::{Outcome, Subject};

pub(super) async fn caught_up_on_an_empty_store(s: Subject) -> Outcome {
    let mut sub = s.events.subscribe(0, EventFilter::all());
    match next_item(&mut sub).await? {
        SubscriptionItem::CaughtUp { .. } => Ok(()),
        other => Err(format!(
            "an empty store's subscription first yielded {other:?}"
        )),
    }
}

pub(super) async fn history_then_live(s: Subject) -> Outcome {
    let store = &*s.events;
    let history = batch(1, 3);
    let stored = append(store, "a", NoStream, history.clone()).await?;
    let mut sub = store.subscribe(0, EventFilter::all());
    let (seen, caught_up) = until_caught_up(&mut sub, stored.last_position).await?;
    ensure!(
        ids(&seen) == sent_ids(&history),
        "the subscription replayed {} events instead of the 3 stored",
        seen.len()
    );
    let live = batch(4, 2);
    let appended = append(store, "b", NoStream, live.clone()).await?;
    ensure!(
        appended.first_position > caught_up,
        "an event appended after CaughtUp {{ position: {caught_up} }} got position {}",
        appended.first_position
    );
    let more = next_events(&mut sub, 2).await?;
    ensure!(
        ids(&more) == sent_ids(&live),
        "live events arrived wrong: {:?}",
        ids(&more)
    );
    let mut all = seen;
    all.extend(more);
    increasing(&all)?;
    let (extra, _) = until_caught_up(&mut sub, appended.last_position).await?;
    ensure!(
        extra.is_empty(),
        "the subscription delivered {} unexpected events",
        extra.len()
    );
    Ok(())
}

pub(super) async fn filter_is_respected(s: Subject) -> Outcome {
    let store = &*s.events;
    let wanted = "conformance.Wanted";
    let filter = EventFilter::all().with_event_names([wanted]);
    let mut expected = Vec::new();
    let mut last = 0;
    for n in 0..6u64 {
        let name = if n % 2 == 0 {
            wanted
        } else {
            "conformance.Ignored"
        };
        let e = event(name, n);
        if name == wanted {
            expected.push(e.event_id);
        }
        last = append(store, "a", Any, vec![e]).await?.last_position;
    }
    let mut sub = store.subscribe(0, filter);
    // The last event is filtered out, yet CaughtUp must cover it.
    let (seen, _) = until_caught_up(&mut sub, last).await?;
    ensure!(
        ids(&seen) == expected,
        "the filtered history was wrong: {:?}",
        ids(&seen)
    );
    let ignored = append(store, "a", Any, vec![event("conformance.Ignored", 7)]).await?;
    let kept = event(wanted, 8);
    append(store, "a", Any, vec![kept.clone()]).await?;
    let live = next_events(&mut sub, 1).await?;
    ensure!(
        ids(&live) == vec![kept.event_id],
        "the filtered live event was {:?}, expected {} (an ignored one is at {})",
        ids(&live),
        kept.event_id,
        ignored.last_position
    );
    Ok(())
}

pub(super) async fn resumes_from_a_position(s: Subject) -> Outcome {
    let store = &*s.events;
    let sent = batch(1, 5);
    for e in &sent {
        append(store, "a", Any, vec![e.clone()]).await?;
    }
    let all = super::support::read_all(store, 0, EventFilter::all()).await?;
    ensure!(all.len() == 5, "read {} events, appended 5", all.len());
    let from = all[2].global_position;
    let mut sub = store.subscribe(from, EventFilter::all());
    let (seen, caught_up) = until_caught_up(&mut sub, all[4].global_position).await?;
    ensure!(
        ids(&seen) == ids(&all[2..]),
        "subscribing from {from} delivered {:?}, expected the last 3 events",
        ids(&seen)
    );
    drop(sub);
    // A consumer that checkpointed at CaughtUp resumes just after it.
    let more = batch(6, 2);
    append(store, "a", Any, more.clone()).await?;
    let mut sub = store.subscribe(caught_up + 1, EventFilter::all());
    let resumed = next_events(&mut sub, 2).await?;
    ensure!(
        ids(&resumed) == sent_ids(&more),
        "resuming after CaughtUp {{ position: {caught_up} }} delivered {:?}",
        ids(&resumed)
    );
    Ok(())
}

pub(super) async fn concurrent_appends_arrive_once_in_order(s: Subject) -> Outcome {
    const WRITERS: u64 = 4;
    const EACH: u64 = 6;
    let mut sub = s.events.subscribe(0, EventFilter::all());
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = s.events.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for n in 0..EACH {
                let events = batch(w * 100 + n, 1);
                sent.extend(sent_ids(&events));
                store
                    .append(&format!("w{w}"), super::support::AGG, Any, events)
                    .await?;
            }
            Ok::<_, crate::StoreError>(sent)
        }));
    }
    let mut sent = HashSet::new();
    for task in tasks {
        let ids = task
            .await
            .map_err(|e| format!("writer task failed: {e}"))?
            .step("concurrent append")?;
        sent.extend(ids);
    }
    let got = next_events(&mut sub, (WRITERS * EACH) as usize).await?;
    increasing(&got)?;
    let unique: HashSet<_> = ids(&got).into_iter().collect();
    ensure!(
        unique.len() == got.len() && unique == sent,
        "the subscription delivered {} events ({} distinct) for {} appended",
        got.len(),
        unique.len(),
        sent.len()
    );
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for e in &got {
        let v = versions.entry(&e.stream_id).or_insert(0);
        ensure!(
            e.stream_version == *v + 1,
            "stream `{}` delivered version {} after {}",
            e.stream_id,
            e.stream_version,
            v
        );
        *v = e.stream_version;
    }
    Ok(())
}
