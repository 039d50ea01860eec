//! Rows written by hand with SQL that the code cannot read: each yields a
//! typed error naming where it is, and the rest of the log stays readable.

mod common;

use eventsource::event::codec::decode_event;
use eventsource::prelude::*;
use eventsource::store::{EventFilter, SubscriptionItem};
use eventsource::{DecodeErrorKind, EventSet, RecordedEvent};
use eventsource::{Error, StoreError};
use eventsource_postgres::PgEventStore;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

/// The one event the test's code knows.
#[derive(Event, Serialize, Deserialize, Debug, PartialEq)]
#[event(name = "bad.Deposited")]
pub struct Deposited {
    /// How much.
    pub amount: i64,
}

/// An aggregate applying it.
#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "bad.Account")]
pub struct Account {
    balance: i64,
}

#[aggregate_impl]
impl Account {
    #[event_sourcing_handler]
    fn on_deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

/// Inserts a row the way a careless migration script might, in its own
/// transaction, returning its global position.
async fn insert_by_hand(
    store: &PgEventStore,
    stream: &str,
    version: i64,
    name: &str,
    payload: &str,
    metadata: &str,
) -> u64 {
    let sql = format!(
        "INSERT INTO \"{}\".events (global_position, transaction_id, stream_id, aggregate_type, \
             stream_version, event_id, event_name, schema_version, payload, metadata) \
         VALUES (pg_current_xact_id()::text::bigint * 65536 + 1, pg_current_xact_id(), $1, \
             'bad.Account', $2, gen_random_uuid(), $3, 1, $4::jsonb, $5::jsonb) \
         RETURNING global_position",
        store.schema()
    );
    let position: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(stream)
        .bind(version)
        .bind(name)
        .bind(payload)
        .bind(metadata)
        .fetch_one(store.pool())
        .await
        .unwrap();
    position as u64
}

async fn deposit(store: &PgEventStore, stream: &str, expected: ExpectedVersion, amount: i64) {
    let event = NewEvent::from_event(&Deposited { amount }, Metadata::new()).unwrap();
    store
        .append(stream, "bad.Account", expected, vec![event])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rows_are_typed_errors_and_the_rest_stays_readable() {
    let store = common::store().await;
    let stream = Repository::<Account>::stream_id("a1");
    deposit(&store, &stream, ExpectedVersion::NoStream, 5).await;
    let mismatched = insert_by_hand(
        &store,
        &stream,
        2,
        "bad.Deposited",
        r#"{"amount":"lots"}"#,
        "{}",
    )
    .await;
    let unknown = insert_by_hand(&store, &stream, 3, "bad.Renamed", r#"{"amount":1}"#, "{}").await;
    let bad_meta = insert_by_hand(
        &store,
        &stream,
        4,
        "bad.Deposited",
        r#"{"amount":1}"#,
        r#"{"correlation_id":42}"#,
    )
    .await;
    deposit(&store, &stream, ExpectedVersion::Exact(4), 7).await;

    // The stream reads through: one error item for the unreadable row.
    let items: Vec<Result<RecordedEvent, StoreError>> =
        store.read_stream(&stream, 1).collect().await;
    assert_eq!(items.len(), 5, "{items:?}");
    match &items[3] {
        Err(StoreError::Corrupt {
            global_position,
            reason,
        }) => {
            assert_eq!(*global_position, bad_meta);
            for needle in [stream.as_str(), "version 4", "bad.Deposited", "metadata"] {
                assert!(reason.contains(needle), "`{needle}` missing from: {reason}");
            }
        }
        other => panic!("bad metadata should be Corrupt, got {other:?}"),
    }
    let last = items[4].as_ref().unwrap();
    assert_eq!(last.stream_version, 5);
    assert_eq!(
        decode_event::<Deposited>(last).unwrap(),
        Deposited { amount: 7 }
    );

    // A payload that does not match its type: a typed decode error.
    let record = items[1].as_ref().unwrap();
    let err = decode_event::<Deposited>(record).unwrap_err();
    assert!(matches!(err.kind, DecodeErrorKind::Payload(_)), "{err}");
    assert_eq!(
        (&*err.stream_id, err.stream_version, err.global_position),
        (stream.as_str(), 2, mismatched)
    );
    assert_eq!(&*err.event_name, "bad.Deposited");
    let text = err.to_string();
    for needle in [
        stream.as_str(),
        "version 2",
        &mismatched.to_string(),
        "bad.Deposited",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from: {text}");
    }

    // An unknown event name, through the aggregate's generated event set.
    let record = items[2].as_ref().unwrap();
    let err = <Account as Aggregate>::Event::decode(record).unwrap_err();
    assert!(
        matches!(err.kind, DecodeErrorKind::UnknownEvent { .. }),
        "{err}"
    );
    assert_eq!((err.stream_version, err.global_position), (3, unknown));
    assert_eq!(&*err.event_name, "bad.Renamed");

    // Loading the aggregate stops at the first bad record, with a typed error.
    let repo = Repository::<Account>::new(store.clone()).unwrap();
    match repo.load("a1").await {
        Err(Error::Decode(err)) => {
            assert_eq!((err.stream_version, err.global_position), (2, mismatched))
        }
        Err(other) => panic!("loading should fail with a decode error, got {other}"),
        Ok(_) => panic!("loading a stream with bad records succeeded"),
    }

    // The global log reads by position past each bad row.
    let after: Vec<RecordedEvent> = store
        .read_all(bad_meta + 1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].stream_version, 5);
    let all: Vec<Result<RecordedEvent, StoreError>> =
        store.read_all(0, EventFilter::all()).collect().await;
    let kinds: Vec<bool> = all.iter().map(Result::is_ok).collect();
    assert_eq!(kinds, [true, true, true, false, true]);

    // A subscription hands the bad row over as it is stored, and keeps going.
    let mut sub = store.subscribe(0, EventFilter::all());
    let mut seen = Vec::new();
    while let Some(item) = sub.next().await {
        match item {
            Ok(SubscriptionItem::Event(e)) => seen.push(Ok(e.stream_version)),
            Ok(SubscriptionItem::CaughtUp { position }) if position >= last.global_position => {
                break;
            }
            Ok(SubscriptionItem::CaughtUp { .. }) => {}
            Ok(SubscriptionItem::Corrupt(record)) => {
                assert_eq!(
                    (
                        &*record.stream_id,
                        record.stream_version,
                        &*record.event_name
                    ),
                    (stream.as_str(), 4, "bad.Deposited")
                );
                assert_eq!(record.metadata, r#"{"correlation_id": 42}"#);
                assert_eq!(record.payload, r#"{"amount": 1}"#);
                assert!(record.reason.contains("metadata"), "{}", record.reason);
                assert!(record.event_id.is_some() && record.recorded_at.is_some());
                seen.push(Err(record.global_position));
            }
            Ok(other) => panic!("unexpected item: {other:?}"),
            Err(other) => panic!("the subscription failed: {other}"),
        }
    }
    assert_eq!(seen, [Ok(1), Ok(2), Ok(3), Err(bad_meta), Ok(5)]);
    common::drop_schema(&store).await;
}

/// Recording times are read from their binary form: every time a record can
/// hold reads back as PostgreSQL stored it, and one beyond a `DateTime`
/// (`infinity`, written by hand) is a typed error, not a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recording_times_read_back_exactly_and_infinity_is_corrupt() {
    let store = common::store().await;
    let stream = Repository::<Account>::stream_id("times");
    let times = [
        "2000-01-01 00:00:00+00",
        "1969-07-20 20:17:40.123456+00",
        "1999-12-31 23:59:59.999999+00",
        "2262-04-11 23:47:16.854775+00",
        "0001-01-01 00:00:00+00",
    ];
    deposit(&store, &stream, ExpectedVersion::NoStream, 1).await;
    for version in 1..times.len() {
        deposit(&store, &stream, ExpectedVersion::Exact(version as u64), 1).await;
    }
    let set = format!(
        "UPDATE \"{}\".events SET recorded_at = $1::timestamptz \
         WHERE stream_id = $2 AND stream_version = $3",
        store.schema()
    );
    let select = format!(
        "SELECT recorded_at FROM \"{}\".events WHERE stream_id = $1 ORDER BY stream_version",
        store.schema()
    );
    for (index, time) in times.iter().enumerate() {
        sqlx::query(sqlx::AssertSqlSafe(set.clone()))
            .bind(*time)
            .bind(&stream)
            .bind(index as i64 + 1)
            .execute(store.pool())
            .await
            .unwrap();
    }
    let stored: Vec<chrono::DateTime<chrono::Utc>> =
        sqlx::query_scalar(sqlx::AssertSqlSafe(select))
            .bind(&stream)
            .fetch_all(store.pool())
            .await
            .unwrap();
    let read: Vec<RecordedEvent> = store.read_stream(&stream, 1).try_collect().await.unwrap();
    let read: Vec<_> = read.iter().map(|r| r.recorded_at).collect();
    assert_eq!(read, stored);
    assert_eq!(read[1].to_rfc3339(), "1969-07-20T20:17:40.123456+00:00");

    sqlx::query(sqlx::AssertSqlSafe(set))
        .bind("infinity")
        .bind(&stream)
        .bind(2_i64)
        .execute(store.pool())
        .await
        .unwrap();
    let items: Vec<Result<RecordedEvent, StoreError>> =
        store.read_stream(&stream, 1).collect().await;
    assert_eq!(items.len(), times.len(), "{items:?}");
    match &items[1] {
        Err(StoreError::Corrupt { reason, .. }) => {
            for needle in [stream.as_str(), "version 2", "recording time"] {
                assert!(reason.contains(needle), "`{needle}` missing from: {reason}");
            }
        }
        other => panic!("an infinite recording time should be Corrupt, got {other:?}"),
    }
    assert!(items[2].is_ok(), "the rest stays readable: {items:?}");

    // The same for a snapshot's time, read by `SnapshotStore::load`.
    let snapshot = eventsource::store::Snapshot {
        stream_id: stream.as_str().into(),
        aggregate_type: "bad.Account".into(),
        version: 1,
        revision: 0,
        state: "{}".into(),
        taken_at: chrono::Utc::now(),
    };
    SnapshotStore::save(&store, snapshot).await.unwrap();
    let loaded = SnapshotStore::load(&store, &stream).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1);
    let infinite = format!(
        "UPDATE \"{}\".snapshots SET taken_at = 'infinity' WHERE stream_id = $1",
        store.schema()
    );
    sqlx::query(sqlx::AssertSqlSafe(infinite))
        .bind(&stream)
        .execute(store.pool())
        .await
        .unwrap();
    let err = SnapshotStore::load(&store, &stream).await.unwrap_err();
    assert!(err.to_string().contains("time taken"), "{err}");
}
