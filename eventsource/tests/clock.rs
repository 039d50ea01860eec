//! One seed fixes every source of time and randomness in the runtime; the
//! default is the system.

mod support;

use std::time::Duration;

use eventsource::backoff::Backoff;
use eventsource::clock::Clock;
use eventsource::prelude::*;
use eventsource::uuid::Uuid;
use eventsource::{RetryPolicy, chrono};
use futures::TryStreamExt;
use support::*;

/// Everything a run of the runtime drew from its clock.
#[derive(Debug, PartialEq)]
struct Trace {
    command_ids: Vec<Uuid>,
    event_ids: Vec<Uuid>,
    recorded_at: Vec<chrono::DateTime<chrono::Utc>>,
    snapshot_taken_at: Option<chrono::DateTime<chrono::Utc>>,
    free_event_id: Uuid,
    jitter: Vec<Duration>,
    runner_owner: Uuid,
}

/// Commands, snapshots, retry jitter and a runner, all built without a
/// clock of their own: the seeded one is ambient for the whole run.
async fn run(seed: u64) -> Trace {
    let clock = Clock::seeded(seed);
    let _ambient = clock.enter();
    let store = InMemoryStore::new();
    let repo = Repository::<Ledger>::new(store.clone())
        .unwrap()
        .with_snapshots(store.clone());
    let mut command_ids = vec![repo.execute(open("a")).await.unwrap().command_id];
    for amount in 1..=4 {
        // Paused time moves on by exactly this much.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        command_ids.push(repo.execute(credit("a", amount)).await.unwrap().command_id);
    }
    let records: Vec<_> = store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    let snapshot = SnapshotStore::load(&store, "test.Ledger-a").await.unwrap();
    let free = NewEvent::new("test.Noted", 1, r#"{"text":"x"}"#, Metadata::new());
    let jitter = (1..=6).map(|n| RetryPolicy::default().delay(n)).collect();
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    Trace {
        command_ids,
        event_ids: records.iter().map(|r| r.event_id).collect(),
        recorded_at: records.iter().map(|r| r.recorded_at).collect(),
        snapshot_taken_at: snapshot.map(|s| s.taken_at),
        free_event_id: free.event_id,
        jitter,
        runner_owner: runner.owner(),
    }
}

#[tokio::test(start_paused = true)]
async fn two_seeded_runs_draw_the_same_ids_times_and_jitter() {
    let first = run(7).await;
    let second = run(7).await;
    assert_eq!(first, second);
    assert_eq!(first.event_ids.len(), 5);
    assert!(first.snapshot_taken_at.is_some(), "the 4th event takes one");
    // The wall clock moved with paused time, from the seeded start.
    let steps: Vec<i64> = first
        .recorded_at
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    assert_eq!(steps, [1_500, 1_500, 1_500, 1_500]);
    // Another seed draws other numbers.
    let other = run(8).await;
    assert_ne!(first.event_ids, other.event_ids);
    assert_ne!(first.jitter, other.jitter);
    assert_eq!(first.recorded_at, other.recorded_at, "time is not random");
}

#[tokio::test(start_paused = true)]
async fn components_given_a_clock_use_it_without_an_ambient_one() {
    let trace = |seed| async move {
        let clock = Clock::seeded(seed);
        let store = InMemoryStore::new().with_clock(clock.clone());
        let repo = Repository::<Ledger>::new(store.clone())
            .unwrap()
            .with_clock(clock.clone());
        let done = repo.execute(open("b")).await.unwrap();
        let recorded: Vec<_> = store
            .read_stream("test.Ledger-b", 1)
            .try_collect()
            .await
            .unwrap();
        let jitter = RetryPolicy::default().with_clock(clock.clone()).delay(3);
        let backoff = Backoff::new(Duration::from_millis(8), Duration::from_secs(1));
        (
            done.command_id,
            recorded[0].event_id,
            recorded[0].recorded_at,
            jitter,
            backoff.jittered(2, &clock),
        )
    };
    let first = trace(11).await;
    assert_eq!(first, trace(11).await);
    assert!(Clock::current().seed().is_none(), "nothing was entered");
}

#[tokio::test]
async fn the_default_is_the_system() {
    assert_eq!(Clock::current(), Clock::system());
    assert_eq!(Clock::default(), Clock::system());
    let before = chrono::Utc::now();
    let store = InMemoryStore::new();
    let repo = Repository::<Ledger>::new(store.clone()).unwrap();
    let done = repo.execute(open("c")).await.unwrap();
    let after = chrono::Utc::now();
    let recorded: Vec<_> = store
        .read_stream("test.Ledger-c", 1)
        .try_collect()
        .await
        .unwrap();
    let at = recorded[0].recorded_at;
    assert!(
        before <= at && at <= after,
        "{at} is not between {before} and {after}"
    );
    // A v7 id carries the milliseconds it was made in.
    let (seconds, nanos) = done.command_id.get_timestamp().unwrap().to_unix();
    let made = chrono::DateTime::from_timestamp(seconds as i64, nanos).unwrap();
    assert!(
        (made - before).num_seconds().abs() < 5,
        "{made} vs {before}"
    );
    // System randomness: no two runs of the same calls agree.
    let system = Clock::system();
    assert_ne!(system.uuid_v7(), system.uuid_v7());
    assert_ne!(
        (0..4).map(|_| system.u64()).collect::<Vec<_>>(),
        (0..4).map(|_| system.u64()).collect::<Vec<_>>()
    );
}

#[test]
fn an_entered_clock_is_ambient_until_its_guard_drops() {
    let outer = Clock::seeded(1);
    let inner = Clock::seeded(2);
    {
        let _outer = outer.enter();
        assert_eq!(Clock::current(), outer);
        {
            let _inner = inner.enter();
            assert_eq!(Clock::current(), inner);
        }
        assert_eq!(Clock::current(), outer);
    }
    assert_eq!(Clock::current(), Clock::system());
    // Another thread has its own ambient clock.
    let _outer = outer.enter();
    let elsewhere = std::thread::spawn(|| Clock::current().seed())
        .join()
        .unwrap();
    assert_eq!(elsewhere, None);
}
