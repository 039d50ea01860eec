//! Many tasks appending to one in-memory stream at once.

use std::collections::HashSet;
use std::sync::Arc;

use eventsource::StoreError;
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use futures::TryStreamExt;
use tokio::sync::Barrier;

const TASKS: usize = 32;

fn event(task: usize) -> NewEvent {
    NewEvent::new(
        "test.Tick",
        1,
        format!(r#"{{"task":{task}}}"#),
        Metadata::new(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_winner_per_version_and_every_loser_conflicts() {
    let store = InMemoryStore::new();
    store
        .append("s", "test.T", ExpectedVersion::NoStream, vec![event(0)])
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(TASKS));
    let handles: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .append("s", "test.T", ExpectedVersion::Exact(1), vec![event(task)])
                    .await
            })
        })
        .collect();
    let mut winners = 0;
    for handle in handles {
        match handle.await.unwrap() {
            Ok(result) => {
                winners += 1;
                assert_eq!(result.last_version, 2);
            }
            Err(StoreError::Conflict {
                stream_id,
                expected,
                actual,
            }) => {
                assert_eq!(&*stream_id, "s");
                assert_eq!(expected, ExpectedVersion::Exact(1));
                assert_eq!(actual, Some(2));
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retrying_writers_leave_contiguous_versions_without_loss_or_duplicates() {
    let store = InMemoryStore::new();
    let per_task = 20;
    let handles: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut conflicts = 0;
                for i in 0..per_task {
                    let new = event(task * 1000 + i);
                    loop {
                        let current = store.stream_version("s").await.unwrap();
                        let expected = ExpectedVersion::from_current(current);
                        match store
                            .append("s", "test.T", expected, vec![new.clone()])
                            .await
                        {
                            Ok(_) => break,
                            Err(e) if e.is_conflict() => {
                                conflicts += 1;
                                tokio::task::yield_now().await;
                            }
                            Err(e) => panic!("unexpected error: {e}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let events: Vec<RecordedEvent> = store.read_stream("s", 1).try_collect().await.unwrap();
    assert_eq!(events.len(), TASKS * per_task);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.stream_version, i as u64 + 1, "versions are contiguous");
    }
    let payloads: HashSet<&str> = events.iter().map(|e| &*e.payload).collect();
    assert_eq!(
        payloads.len(),
        TASKS * per_task,
        "no event lost or duplicated"
    );
    let all: Vec<RecordedEvent> = store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert!(
        all.windows(2)
            .all(|w| w[0].global_position < w[1].global_position)
    );
}
