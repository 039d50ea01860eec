//! Conjoined multi-tenancy: every tenant in one schema, kept apart by
//! row-level security. Tenant `b` tries to read, subscribe to, append to,
//! project, delete and list tenant `a`'s data through every public API, and
//! through plain SQL on its own connections, and reaches nothing; the
//! tenant flows through metadata, the bus's guard and saga commands; the
//! cross-tenant reader sees every tenant's events in the one gap-free order
//! and knows each event's tenant; stores from before tenancy migrate and
//! keep working as the default tenant. A schema is conjoined only once
//! `PgConjoined::install` ran (tenant stores refuse it before), and lookups
//! by stream id keep their index with the tenant in the keys.
//!
//! Row-level security does not bind superusers, so these tests run as a
//! role of their own (`eventsource_conjoined_app`, created on first use)
//! that owns its throwaway schema.

mod common;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventsource::memory::InMemoryProjectionBackend;
use eventsource::prelude::*;
use eventsource::projection::{DeadLetterStore, ParkedEvent};
use eventsource::saga::{Deadline, DeadlineStore, SagaInstance, SagaStore};
use eventsource::shredding::{KeyStore, new_key};
use eventsource::store::{
    CheckpointStore, DeleteMode, EventFilter, EventStore, Snapshot, SnapshotStore, StreamQuery,
    SubscriptionItem,
};
use eventsource::testing::conformance::{self, Subject};
use eventsource::{BoxError, CommandError, Error, StoreError};
use eventsource_postgres::{
    ConjoinedError, PgAcrossTenants, PgConjoined, PgEventStore, PgStoreOptions, TENANT_HEADER,
    TenantError, TenantGuard, TenantId,
};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

const WAIT: Duration = Duration::from_secs(30);

/// The role the tests connect as: not a superuser, not BYPASSRLS.
const APP_ROLE: &str = "eventsource_conjoined_app";

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "conjoined.Opened")]
struct Opened {
    account: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "conjoined.Welcomed")]
struct Welcomed {
    account: String,
}

#[derive(Command, Debug)]
#[command(aggregate = Account)]
struct Open {
    #[aggregate_id]
    account: String,
}

#[derive(Command, Debug)]
#[command(aggregate = Account)]
struct Welcome {
    #[aggregate_id]
    account: String,
}

#[derive(Aggregate, Default, Serialize, Deserialize)]
#[aggregate(name = "conjoined.Account")]
struct Account {
    open: bool,
}

#[aggregate_impl]
impl Account {
    #[command_handler(create)]
    fn open(&self, cmd: &Open) -> Opened {
        Opened {
            account: cmd.account.clone(),
        }
    }

    #[command_handler]
    fn welcome(&self, cmd: &Welcome) -> Welcomed {
        Welcomed {
            account: cmd.account.clone(),
        }
    }

    #[event_sourcing_handler]
    fn on_opened(&mut self, _: &Opened) {
        self.open = true;
    }

    #[event_sourcing_handler]
    fn on_welcomed(&mut self, _: &Welcomed) {}
}

/// Welcomes every account opened.
#[derive(Default, Serialize, Deserialize)]
struct Welcoming;

#[saga(name = "conjoined.welcoming")]
impl Welcoming {
    #[start]
    async fn on_opened(&mut self, e: &Opened, ctx: &mut SagaContext<'_>) -> Result<(), BoxError> {
        ctx.dispatch(Welcome {
            account: e.account.clone(),
        })
        .await?;
        ctx.complete();
        Ok(())
    }
}

/// The accounts a projection saw opened.
#[derive(Default, Clone)]
struct Seen(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[projection(name = "conjoined.seen")]
impl Seen {
    fn on_opened(&mut self, e: &Opened) {
        self.0.lock().unwrap().push(e.account.clone());
    }
}

/// The accounts a cross-tenant projection saw opened, with their tenant.
#[derive(Default, Clone)]
struct SeenAcross(std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>);

#[projection(name = "conjoined.seen_across")]
impl SeenAcross {
    fn on_opened(&mut self, e: &Opened, meta: &RecordedEvent) {
        let tenant = meta
            .metadata
            .headers
            .get(TENANT_HEADER)
            .cloned()
            .unwrap_or_default();
        self.0.lock().unwrap().push((tenant, e.account.clone()));
    }
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

/// One test's schema, owned by the application role, with the admin pool
/// that made it (and drops it).
struct Fixture {
    admin: PgPool,
    app: PgPool,
    schema: String,
}

impl Fixture {
    async fn new() -> Self {
        let admin = common::pool(2, "eventsource-tests-conjoined-admin").await;
        // Tests of this file run at once: a concurrent creation of the
        // role fails on the catalog's unique index, which is as good.
        sqlx::raw_sql(
            "DO $$ BEGIN
                 CREATE ROLE eventsource_conjoined_app LOGIN NOSUPERUSER NOBYPASSRLS;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END $$",
        )
        .execute(&admin)
        .await
        .expect("create the application role (the test user needs CREATEROLE)");
        let schema = common::unique_schema();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA \"{schema}\" AUTHORIZATION {APP_ROLE}"
        )))
        .execute(&admin)
        .await
        .expect("create the test schema");
        let url = common::database_url();
        let connect = PgConnectOptions::from_str(&url)
            .expect("DATABASE_URL is a PostgreSQL URL")
            .username(APP_ROLE)
            .application_name("eventsource-tests-conjoined");
        let app = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(connect)
            .await
            .expect("connect as the application role (trust or password-less auth)");
        Self { admin, app, schema }
    }

    fn options(&self) -> PgStoreOptions {
        PgStoreOptions::new(&self.schema)
            .unwrap()
            .with_poll_interval(Duration::from_millis(200))
    }

    async fn conjoined(&self) -> PgConjoined {
        PgConjoined::install(&self.app, &self.options())
            .await
            .unwrap();
        PgConjoined::new(self.app.clone(), self.options())
            .await
            .unwrap()
    }

    async fn drop(self) {
        self.app.close().await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.schema
        )))
        .execute(&self.admin)
        .await
        .expect("drop the test schema");
    }
}

/// The next event of a subscription, skipping progress markers; `None`
/// when nothing but markers came within `within`.
async fn next_event(
    sub: &mut eventsource::store::Subscription,
    within: Duration,
) -> Option<RecordedEvent> {
    tokio::time::timeout(within, async {
        loop {
            match sub.next().await {
                Some(Ok(SubscriptionItem::Event(e))) => return Some(e),
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("subscription failed: {e}"),
                None => return None,
            }
        }
    })
    .await
    .ok()
    .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_that_bypass_row_security_are_refused() {
    let admin = common::pool(1, "eventsource-tests-conjoined-admin").await;
    let exempt: bool = sqlx::query_scalar(
        "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&admin)
    .await
    .unwrap();
    let result = PgConjoined::new(admin, PgStoreOptions::new("es_unused").unwrap()).await;
    if exempt {
        assert!(
            matches!(result, Err(ConjoinedError::BypassesRowSecurity { .. })),
            "{result:?}"
        );
    } else {
        // Allowed as a role, refused for the schema: nothing installed it.
        assert!(
            matches!(result, Err(ConjoinedError::NotConjoined { .. })),
            "{result:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_cannot_reach_another_through_any_public_api() {
    let fixture = Fixture::new().await;
    let tenants = fixture.conjoined().await;
    let (a, b) = (tenant("a"), tenant("b"));
    let (store_a, store_b) = (tenants.tenant(&a).unwrap(), tenants.tenant(&b).unwrap());
    assert_eq!(store_a.schema(), store_b.schema());

    // Tenant a: an account, its snapshot, a checkpoint, a dead letter, a
    // saga instance, a deadline and a subject key.
    let bus_a = CommandBus::new(store_a.clone())
        .unwrap()
        .with_snapshots(store_a.clone())
        .with_interceptor(TenantGuard::new(a.clone()));
    let opened = bus_a
        .dispatch(Open {
            account: "x".into(),
        })
        .await
        .unwrap();
    let stream = opened.stream_id.to_string();
    let snapshot = Snapshot {
        stream_id: stream.as_str().into(),
        aggregate_type: "conjoined.Account".into(),
        version: 1,
        revision: 0,
        state: r#"{"open":true}"#.into(),
        taken_at: eventsource::clock::Clock::system().now(),
    };
    SnapshotStore::save(&store_a, snapshot.clone())
        .await
        .unwrap();
    CheckpointStore::save(&store_a, "conjoined.seen", 7)
        .await
        .unwrap();
    let a_events: Vec<RecordedEvent> = store_a
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(a_events.len(), 1);
    assert_eq!(
        a_events[0].metadata.headers.get(TENANT_HEADER).unwrap(),
        "a"
    );
    store_a
        .dead_letters()
        .park(ParkedEvent::new(
            "conjoined.seen",
            &a_events[0],
            "boom".into(),
            3,
        ))
        .await
        .unwrap();
    let correlation = uuid::Uuid::now_v7();
    let now = eventsource::clock::Clock::system().now();
    store_a
        .saga_store()
        .save(
            "conjoined.welcoming",
            correlation,
            SagaInstance {
                state: "{}".into(),
                completed: false,
                updated_at: now,
            },
        )
        .await
        .unwrap();
    store_a
        .saga_store()
        .schedule(Deadline {
            id: uuid::Uuid::now_v7(),
            saga: "conjoined.welcoming".into(),
            correlation_id: correlation,
            name: "remind".into(),
            due_at: now - chrono::Duration::seconds(60),
            payload: "{}".into(),
        })
        .await
        .unwrap();
    store_a
        .key_store()
        .key_for_append("subject-1", new_key())
        .await
        .unwrap();
    let head_a = store_a.head_position().await.unwrap();
    assert!(head_a > 0);

    // Reads.
    assert_eq!(store_b.stream_version(&stream).await.unwrap(), None);
    let read: Vec<_> = store_b.read_stream(&stream, 1).try_collect().await.unwrap();
    assert!(read.is_empty());
    let mut visited = 0;
    store_b
        .visit_stream(&stream, 1, &mut |events| {
            visited += events.len();
            true
        })
        .await
        .unwrap();
    assert_eq!(visited, 0);
    let all: Vec<_> = store_b
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert!(all.is_empty());
    assert_eq!(store_b.head_position().await.unwrap(), 0);
    // Filtered reads take other indexes; the policy holds on each.
    for filter in [
        EventFilter::all().with_aggregate_types(["conjoined.Account"]),
        EventFilter::all().with_event_names(["conjoined.Opened"]),
    ] {
        let filtered: Vec<_> = store_b
            .read_all(1, filter.clone())
            .try_collect()
            .await
            .unwrap();
        assert!(filtered.is_empty());
        assert_eq!(store_b.count_events(1, filter).await.unwrap(), 0);
    }
    assert_eq!(
        store_b.count_events(1, EventFilter::all()).await.unwrap(),
        0
    );
    assert!(
        store_b
            .streams(&StreamQuery::new(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store_b.event_types().await.unwrap().is_empty());

    // Snapshots, checkpoints, dead letters, sagas, deadlines, keys.
    assert!(
        SnapshotStore::load(&store_b, &stream)
            .await
            .unwrap()
            .is_none()
    );
    SnapshotStore::delete(&store_b, &stream).await.unwrap();
    assert!(
        SnapshotStore::load(&store_a, &stream)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        CheckpointStore::load(&store_b, "conjoined.seen")
            .await
            .unwrap(),
        None
    );
    CheckpointStore::reset(&store_b, "conjoined.seen")
        .await
        .unwrap();
    assert_eq!(
        CheckpointStore::load(&store_a, "conjoined.seen")
            .await
            .unwrap(),
        Some(7)
    );
    let dead_b = store_b.dead_letters();
    assert!(dead_b.list("conjoined.seen").await.unwrap().is_empty());
    assert_eq!(dead_b.count("conjoined.seen").await.unwrap(), 0);
    assert!(
        !dead_b
            .remove("conjoined.seen", a_events[0].global_position)
            .await
            .unwrap()
    );
    dead_b.clear("conjoined.seen").await.unwrap();
    assert_eq!(
        store_a
            .dead_letters()
            .count("conjoined.seen")
            .await
            .unwrap(),
        1
    );
    let sagas_b = store_b.saga_store();
    assert!(
        sagas_b
            .list("conjoined.welcoming")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        sagas_b
            .load("conjoined.welcoming", correlation)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        sagas_b
            .pending("conjoined.welcoming")
            .await
            .unwrap()
            .is_empty()
    );
    let claimed = sagas_b
        .claim_due(
            now + chrono::Duration::seconds(60),
            uuid::Uuid::now_v7(),
            now + chrono::Duration::seconds(120),
            100,
        )
        .await
        .unwrap();
    assert!(claimed.is_empty(), "b claimed a's deadline: {claimed:?}");
    assert!(
        !sagas_b
            .cancel("conjoined.welcoming", correlation, "remind")
            .await
            .unwrap()
    );
    assert_eq!(
        store_a
            .saga_store()
            .pending("conjoined.welcoming")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store_b
            .key_store()
            .key("subject-1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store_b.key_store().forget("subject-1").await.unwrap());
    assert!(
        store_a
            .key_store()
            .key("subject-1")
            .await
            .unwrap()
            .is_some()
    );

    // The operations API.
    let ops_b = store_b.operations();
    assert!(
        ops_b
            .streams(&StreamQuery::new(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(ops_b.stream(&stream, false, None, None).await.is_err());
    assert!(ops_b.dead_letters(None).await.unwrap().is_empty());
    assert!(ops_b.saga_instances(None, None).await.unwrap().is_empty());
    assert!(
        ops_b
            .delete_stream(&stream, DeleteMode::Hard)
            .await
            .is_err()
    );
    assert!(ops_b.truncate_stream(&stream, 1).await.is_err());
    assert!(!ops_b.forget_subject("subject-1").await.unwrap_or(false));

    // Lifecycle: b cannot delete or truncate a's stream.
    assert!(matches!(
        store_b.delete_stream(&stream, DeleteMode::Hard).await,
        Err(StoreError::StreamNotFound { .. })
    ));
    assert!(matches!(
        store_b.truncate_before(&stream, 1).await,
        Err(StoreError::StreamNotFound { .. })
    ));
    assert_eq!(store_a.stream_version(&stream).await.unwrap(), Some(1));

    // Subscriptions: b's catches up on nothing, and then a's new events
    // never reach it.
    let mut sub = store_b.subscribe(1, EventFilter::all());
    let mut filtered_sub = store_b.subscribe(
        1,
        EventFilter::all().with_aggregate_types(["conjoined.Account"]),
    );
    bus_a
        .dispatch(Open {
            account: "y".into(),
        })
        .await
        .unwrap();
    assert!(next_event(&mut sub, Duration::from_secs(1)).await.is_none());
    assert!(
        next_event(&mut filtered_sub, Duration::from_secs(1))
            .await
            .is_none()
    );

    // Appends: a batch naming tenant a in its metadata is refused by b's
    // store; b's bus refuses a command claiming tenant a; b's own stream of
    // the same id is b's, and a's is untouched.
    let mut forged = Metadata::new();
    forged.headers.insert(TENANT_HEADER.into(), "a".into());
    let refused = store_b
        .append(
            &stream,
            "conjoined.Account",
            ExpectedVersion::Any,
            vec![NewEvent::new(
                "conjoined.Opened",
                1,
                r#"{"account":"x"}"#,
                forged.clone(),
            )],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::Invalid(invalid) if invalid.problem().contains("tenant `a`")),
        "{refused:?}"
    );
    let bus_b = CommandBus::new(store_b.clone())
        .unwrap()
        .with_interceptor(TenantGuard::new(b.clone()));
    let err = bus_b
        .dispatch_with(
            Welcome {
                account: "x".into(),
            },
            forged,
        )
        .await
        .unwrap_err();
    match err {
        CommandError::Failed(Error::Refused(refused)) => assert_eq!(
            refused.reason_as::<TenantError>(),
            Some(&TenantError::OtherTenant {
                claimed: "a".into(),
                serves: "b".into()
            })
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let missing = bus_b
        .dispatch(Welcome {
            account: "x".into(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(missing, CommandError::Failed(Error::NotFound { .. })),
        "{missing:?}"
    );
    // The same event id as a's event, in b: a different event of b's.
    let mut reused = NewEvent::new("conjoined.Opened", 1, r#"{"account":"x"}"#, Metadata::new());
    reused.event_id = a_events[0].event_id;
    let appended = store_b
        .append(
            &stream,
            "conjoined.Account",
            ExpectedVersion::NoStream,
            vec![reused],
        )
        .await
        .unwrap();
    assert!(!appended.replayed);
    assert_eq!(appended.last_version, 1);
    assert_eq!(store_a.stream_version(&stream).await.unwrap(), Some(1));
    let from_b = next_event(&mut sub, WAIT).await.expect("b's own event");
    assert_eq!(from_b.metadata.headers.get(TENANT_HEADER).unwrap(), "b");
    assert_eq!(from_b.payload.as_ref(), r#"{"account":"x"}"#);

    // Plain SQL on b's own connections: the policies hold even there.
    let mut conn = store_b.pool().acquire().await.unwrap();
    let quoted = format!("\"{}\"", store_b.schema());
    let visible: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {quoted}.events"
    )))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(visible, 1, "b's connection sees only b's event");
    let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {quoted}.events SET payload = '{{}}' WHERE tenant_id = 'a'"
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    let deleted = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM {quoted}.checkpoints WHERE tenant_id = 'a'"
    )))
    .execute(&mut *conn)
    .await
    .unwrap();
    assert_eq!(deleted.rows_affected(), 0);
    for insert in [
        // Into a's tenant.
        format!(
            "INSERT INTO {quoted}.checkpoints (tenant_id, name, position) VALUES ('a', 'x', 1)"
        ),
        // As b, but naming a in the metadata.
        format!(
            "INSERT INTO {quoted}.events (global_position, transaction_id, stream_id, \
             aggregate_type, stream_version, event_id, event_name, schema_version, payload, \
             metadata) VALUES (1, '1', 's', 't', 1, gen_random_uuid(), 'n', 1, '{{}}', \
             '{{\"headers\":{{\"tenant\":\"a\"}}}}')"
        ),
    ] {
        let err = sqlx::query(sqlx::AssertSqlSafe(insert))
            .execute(&mut *conn)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("row-level security"),
            "not refused by a policy: {err}"
        );
    }
    // Switching tenant needs the setting: a's rows stay a's anyway for
    // writes the store makes, since every store connection starts in its
    // tenant; checked here is that the setting is what confines.
    drop(conn);

    // Projections: a runner on b projects b's events only.
    let seen = Seen::default();
    let runner = ProjectionRunner::new(store_b.clone()).unwrap();
    runner
        .start(seen.clone(), store_b.projection_backend())
        .await
        .unwrap();
    runner
        .settle(store_b.head_position().await.unwrap(), WAIT)
        .await
        .unwrap();
    assert_eq!(*seen.0.lock().unwrap(), ["x"]);
    runner.shutdown().await;

    // a's data is all still there.
    assert_eq!(store_a.stream_version(&stream).await.unwrap(), Some(1));
    assert!(
        SnapshotStore::load(&store_a, &stream)
            .await
            .unwrap()
            .is_some()
    );
    let a_all: Vec<_> = store_a
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(a_all.len(), 2);
    fixture.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cross_tenant_reader_sees_every_tenant_and_writes_nothing() {
    let fixture = Fixture::new().await;
    let tenants = fixture.conjoined().await;
    for (id, account) in [("a", "x"), ("b", "x"), ("c", "z")] {
        let store = tenants.tenant(&tenant(id)).unwrap();
        CommandBus::new(store.clone())
            .unwrap()
            .with_interceptor(TenantGuard::new(tenant(id)))
            .dispatch(Open {
                account: account.into(),
            })
            .await
            .unwrap();
    }
    let across = tenants.across_tenants();
    let all: Vec<RecordedEvent> = across
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    let owners: Vec<String> = all
        .iter()
        .map(|e| PgAcrossTenants::tenant_of(e).unwrap().to_string())
        .collect();
    assert_eq!(owners, ["a", "b", "c"]);
    assert_eq!(across.count_events(1, EventFilter::all()).await.unwrap(), 3);

    // Stream ids only mean something within a tenant, and nothing is
    // written across tenants.
    let stream = all[0].stream_id.to_string();
    assert!(matches!(
        across.stream_version(&stream).await,
        Err(StoreError::Unsupported { .. })
    ));
    let read: Result<Vec<_>, _> = across.read_stream(&stream, 1).try_collect().await;
    assert!(matches!(read, Err(StoreError::Unsupported { .. })));
    let appended = across
        .append(
            "order-1",
            "conjoined.Account",
            ExpectedVersion::Any,
            vec![NewEvent::new("conjoined.Opened", 1, "{}", Metadata::new())],
        )
        .await;
    assert!(
        matches!(appended, Err(StoreError::Invalid(_))),
        "{appended:?}"
    );
    assert!(matches!(
        across.delete_stream(&stream, DeleteMode::Hard).await,
        Err(StoreError::Unsupported { .. })
    ));
    assert!(matches!(
        across.streams(&StreamQuery::new(10)).await,
        Err(StoreError::Unsupported { .. })
    ));

    // A cross-tenant projection sees each event with its tenant; its
    // checkpoint is its own, not any tenant's.
    let seen = SeenAcross::default();
    let runner = ProjectionRunner::new(across.clone()).unwrap();
    runner
        .start(seen.clone(), across.projection_backend())
        .await
        .unwrap();
    runner
        .settle(across.head_position().await.unwrap(), WAIT)
        .await
        .unwrap();
    runner.shutdown().await;
    let mut got = seen.0.lock().unwrap().clone();
    got.sort();
    assert_eq!(
        got,
        [
            ("a".to_owned(), "x".to_owned()),
            ("b".to_owned(), "x".to_owned()),
            ("c".to_owned(), "z".to_owned())
        ]
    );
    let a = tenants.tenant(&tenant("a")).unwrap();
    assert_eq!(
        CheckpointStore::load(&a, "conjoined.seen_across")
            .await
            .unwrap(),
        None
    );
    fixture.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_flows_through_events_and_saga_commands() {
    let fixture = Fixture::new().await;
    let tenants = fixture.conjoined().await;
    let (a, b) = (tenant("a"), tenant("b"));
    let store = tenants.tenant(&a).unwrap();
    let bus = CommandBus::new(store.clone())
        .unwrap()
        .with_interceptor(TenantGuard::new(a.clone()));
    let runner = ProjectionRunner::new(store.clone()).unwrap();
    runner
        .start(
            SagaProcessor::<Welcoming>::new(bus.clone(), store.saga_store()),
            store.projection_backend(),
        )
        .await
        .unwrap();
    let opened = bus
        .dispatch(Open {
            account: "z".into(),
        })
        .await
        .unwrap();
    runner
        .settle(opened.appended.unwrap().last_position, WAIT)
        .await
        .unwrap();
    runner.shutdown().await;
    let events: Vec<RecordedEvent> = store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = events.iter().map(|e| &*e.event_name).collect();
    assert_eq!(names, ["conjoined.Opened", "conjoined.Welcomed"]);
    for event in &events {
        assert_eq!(event.metadata.headers.get(TENANT_HEADER).unwrap(), "a");
    }
    // The saga's state and command stayed in a.
    assert_eq!(
        store
            .saga_store()
            .list("conjoined.welcoming")
            .await
            .unwrap()
            .len(),
        1
    );
    let other = tenants.tenant(&b).unwrap();
    assert_eq!(other.head_position().await.unwrap(), 0);
    assert!(
        other
            .saga_store()
            .list("conjoined.welcoming")
            .await
            .unwrap()
            .is_empty()
    );
    fixture.drop().await;
}

/// Several tenants' writers at once; a subscriber per tenant and one across
/// tenants, all started before the first write. Each delivers exactly its
/// events, in increasing position order, none skipped or twice: a tenant's
/// subscription is a filtered view of the one gap-free order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_order_holds_with_writers_of_several_tenants() {
    global_order_across_tenants(|options| options).await;
}

/// The same with shared append statements on kept writer connections, which
/// the store detaches from the tenant's pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_order_holds_with_group_commit_across_tenants() {
    global_order_across_tenants(|options| options.with_group_commit(1).with_writer_connections(2))
        .await;
}

async fn global_order_across_tenants(configure: fn(PgStoreOptions) -> PgStoreOptions) {
    const TENANTS: [&str; 3] = ["t1", "t2", "t3"];
    const WRITERS_PER_TENANT: usize = 2;
    const APPENDS_PER_WRITER: usize = 25;
    const PER_TENANT: usize = WRITERS_PER_TENANT * APPENDS_PER_WRITER * 2;
    let fixture = Fixture::new().await;
    PgConjoined::install(&fixture.app, &configure(fixture.options()))
        .await
        .unwrap();
    let tenants = PgConjoined::new(fixture.app.clone(), configure(fixture.options()))
        .await
        .unwrap();
    let stores: BTreeMap<&str, PgEventStore> = TENANTS
        .iter()
        .map(|id| (*id, tenants.tenant(&tenant(id)).unwrap()))
        .collect();
    let collect = |mut sub: eventsource::store::Subscription, want: usize| {
        tokio::spawn(async move {
            let mut got = Vec::new();
            while got.len() < want {
                match next_event(&mut sub, WAIT).await {
                    Some(e) => got.push(e),
                    None => break,
                }
            }
            got
        })
    };
    let mut subscribers = Vec::new();
    for (id, store) in &stores {
        subscribers.push((
            Some(*id),
            collect(store.subscribe(1, EventFilter::all()), PER_TENANT),
        ));
    }
    let across = tenants.across_tenants();
    subscribers.push((
        None,
        collect(
            across.subscribe(1, EventFilter::all()),
            PER_TENANT * TENANTS.len(),
        ),
    ));

    let mut writers = Vec::new();
    for (id, store) in &stores {
        for writer in 0..WRITERS_PER_TENANT {
            let store = store.clone();
            let id = id.to_string();
            writers.push(tokio::spawn(async move {
                for n in 0..APPENDS_PER_WRITER {
                    let batch = (0..2)
                        .map(|i| {
                            NewEvent::new(
                                "conjoined.Tick",
                                1,
                                format!(r#"{{"tenant":"{id}","writer":{writer},"n":{n},"i":{i}}}"#),
                                Metadata::new(),
                            )
                        })
                        .collect();
                    store
                        .append(
                            &format!("ticks-{writer}"),
                            "conjoined.Ticks",
                            ExpectedVersion::Any,
                            batch,
                        )
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for writer in writers {
        writer.await.unwrap();
    }

    for (id, subscriber) in subscribers {
        let got = subscriber.await.unwrap();
        let expected: Vec<RecordedEvent> = match id {
            Some(id) => stores[id]
                .read_all(1, EventFilter::all())
                .try_collect()
                .await
                .unwrap(),
            None => across
                .read_all(1, EventFilter::all())
                .try_collect()
                .await
                .unwrap(),
        };
        let want = PER_TENANT * if id.is_some() { 1 } else { TENANTS.len() };
        assert_eq!(expected.len(), want, "{id:?}: stored");
        let positions: Vec<u64> = got.iter().map(|e| e.global_position).collect();
        let stored: Vec<u64> = expected.iter().map(|e| e.global_position).collect();
        assert_eq!(positions, stored, "{id:?}: delivered = stored, in order");
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "{id:?}: increasing"
        );
        for event in &got {
            let owner = PgAcrossTenants::tenant_of(event).unwrap();
            if let Some(id) = id {
                assert_eq!(owner.as_str(), id);
            }
            let payload: serde_json::Value =
                serde_json::from_str(&event.payload).expect("stored JSON");
            assert_eq!(payload["tenant"], owner.as_str(), "{}", event.payload);
        }
        // Per stream, versions come in order within each tenant.
        let mut last: BTreeMap<(String, String), u64> = BTreeMap::new();
        for event in &got {
            let key = (
                PgAcrossTenants::tenant_of(event).unwrap().to_string(),
                event.stream_id.to_string(),
            );
            let previous = last.insert(key, event.stream_version).unwrap_or(0);
            assert_eq!(event.stream_version, previous + 1, "{id:?}");
        }
    }
    fixture.drop().await;
}

/// A store made before tenancy migrates: its rows become the default
/// tenant's, a store that knows nothing of tenants keeps working on them
/// (as the tables' owner, whom the forced policies bind), and no tenant
/// sees them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_stores_migrate_and_keep_working_as_the_default_tenant() {
    let fixture = Fixture::new().await;
    let quoted = format!("\"{}\"", fixture.schema);
    let mut tx = fixture.app.begin().await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE TABLE {quoted}.schema_migrations (version integer PRIMARY KEY, \
         name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    )))
    .execute(&mut *tx)
    .await
    .unwrap();
    for migration in eventsource_postgres::migrate::MIGRATIONS
        .iter()
        .filter(|m| m.version < 12)
    {
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            migration.sql.replace("{schema}", &quoted),
        ))
        .execute(&mut *tx)
        .await
        .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {quoted}.schema_migrations (version, name) VALUES ($1, $2)"
        )))
        .bind(migration.version)
        .bind(migration.name)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let plain = PgEventStore::with_options(fixture.app.clone(), fixture.options());
    let before = NewEvent::new(
        "conjoined.Opened",
        1,
        r#"{"account":"old"}"#,
        Metadata::new(),
    );
    plain
        .append(
            "account-old",
            "conjoined.Account",
            ExpectedVersion::NoStream,
            vec![before],
        )
        .await
        .unwrap();
    // Written as the code before tenancy did (today's upsert names the
    // tenant in its conflict target, so it needs migration 12).
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {quoted}.checkpoints (name, position) VALUES ('legacy', 1)"
    )))
    .execute(&fixture.app)
    .await
    .unwrap();

    let tenants = fixture.conjoined().await;
    let applied = tenants.migrate().await.unwrap();
    assert!(applied.is_empty(), "migrated once already: {applied:?}");
    assert_eq!(plain.stream_version("account-old").await.unwrap(), Some(1));
    assert_eq!(
        CheckpointStore::load(&plain, "legacy").await.unwrap(),
        Some(1)
    );
    let after = NewEvent::new(
        "conjoined.Opened",
        1,
        r#"{"account":"old"}"#,
        Metadata::new(),
    );
    plain
        .append(
            "account-old",
            "conjoined.Account",
            ExpectedVersion::Exact(1),
            vec![after],
        )
        .await
        .unwrap();

    let a = tenants.tenant(&tenant("a")).unwrap();
    assert_eq!(a.stream_version("account-old").await.unwrap(), None);
    assert_eq!(CheckpointStore::load(&a, "legacy").await.unwrap(), None);
    let default = tenants.tenant(&tenant("default")).unwrap();
    assert_eq!(
        default.stream_version("account-old").await.unwrap(),
        Some(2)
    );
    let across: Vec<RecordedEvent> = tenants
        .across_tenants()
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(across.len(), 2);
    assert!(
        across
            .iter()
            .all(|e| PgAcrossTenants::tenant_of(e).unwrap().as_str() == "default")
    );
    // Read models run by the default tenant's store see only its events.
    let seen = Seen::default();
    let runner = ProjectionRunner::new(plain.clone()).unwrap();
    runner
        .start(seen.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    runner
        .settle(plain.head_position().await.unwrap(), WAIT)
        .await
        .unwrap();
    runner.shutdown().await;
    assert_eq!(*seen.0.lock().unwrap(), ["old", "old"]);
    fixture.drop().await;
}

/// The store conformance suite against tenant stores of one schema, a new
/// tenant per check: to each check, a tenant's store is a store of its own,
/// policies and all, but for the tenant header on metadata.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_stores_pass_the_conformance_suite() {
    let fixture = Fixture::new().await;
    let tenants = fixture.conjoined().await.with_pool_size(3);
    let previous: Arc<Mutex<Option<TenantId>>> = Arc::default();
    let report = conformance::run(|| {
        let tenants = tenants.clone();
        let previous = previous.clone();
        async move {
            // Checks run one after another: the last check's pool can go.
            let last = previous.lock().unwrap().take();
            if let Some(last) = last {
                tenants.release(&last).await;
            }
            let id = tenant(&format!("t{:08x}", fastrand::u32(..)));
            let store = tenants.tenant(&id).unwrap();
            *previous.lock().unwrap() = Some(id);
            Subject::new(store.clone(), store.clone(), store)
        }
    })
    .await;
    println!("{report}");
    let last = previous.lock().unwrap().take();
    if let Some(last) = last {
        tenants.release(&last).await;
    }
    // The one difference: a tenant's store stamps its tenant on each
    // event's metadata, so metadata reads back with that header added.
    let failures: Vec<(&str, &str)> = report
        .failures()
        .map(|f| (f.name, f.outcome.as_ref().err().map_or("", String::as_str)))
        .collect();
    assert_eq!(failures.len(), 1, "{report}");
    let (name, why) = failures[0];
    assert_eq!(
        name,
        "appends::versions_are_contiguous_and_fields_round_trip"
    );
    assert!(why.contains(r#""tenant": "t"#), "{why}");
    assert_eq!(report.results().len(), conformance::check_names().count());
    fixture.drop().await;
}

/// `append_in` takes the caller's connection, which may come from any pool:
/// inside a transaction the rows are the store's tenant's whatever the
/// connection's own tenant; outside one the append is refused. Deleting and
/// truncating (which append a tombstone inside the store's transaction)
/// work for the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appends_inside_a_callers_transaction_stay_in_the_stores_tenant() {
    let fixture = Fixture::new().await;
    let tenants = fixture.conjoined().await;
    let (a, b) = (
        tenants.tenant(&tenant("a")).unwrap(),
        tenants.tenant(&tenant("b")).unwrap(),
    );
    let event = || NewEvent::new("conjoined.Opened", 1, r#"{"account":"t"}"#, Metadata::new());

    // A transaction on b's own pool, handed to a's store.
    let mut tx = b.pool().begin().await.unwrap();
    a.append_in(
        &mut tx,
        "acct-1",
        "conjoined.Account",
        ExpectedVersion::NoStream,
        vec![event()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(a.stream_version("acct-1").await.unwrap(), Some(1));
    assert_eq!(b.stream_version("acct-1").await.unwrap(), None);

    // A transaction on the plain pool (the default tenant).
    let mut tx = fixture.app.begin().await.unwrap();
    a.append_in(
        &mut tx,
        "acct-1",
        "conjoined.Account",
        ExpectedVersion::Exact(1),
        vec![event()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(a.stream_version("acct-1").await.unwrap(), Some(2));
    let plain = PgEventStore::with_options(fixture.app.clone(), fixture.options());
    assert_eq!(plain.stream_version("acct-1").await.unwrap(), None);

    // No transaction, on a connection of another tenant: refused.
    let mut conn = b.pool().acquire().await.unwrap();
    let refused = a
        .append_in(
            &mut conn,
            "acct-1",
            "conjoined.Account",
            ExpectedVersion::Any,
            vec![event()],
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Invalid(_)), "{refused:?}");
    drop(conn);
    assert_eq!(b.stream_version("acct-1").await.unwrap(), None);
    assert_eq!(a.stream_version("acct-1").await.unwrap(), Some(2));

    // The owner truncates and deletes.
    let truncated = a.truncate_before("acct-1", 2).await.unwrap();
    assert_eq!(truncated.first_kept_version, 2);
    a.delete_stream("acct-1", DeleteMode::Soft).await.unwrap();
    let tombstone: Vec<RecordedEvent> = a.read_stream("acct-1", 3).try_collect().await.unwrap();
    assert_eq!(tombstone.len(), 1);
    assert_eq!(
        tombstone[0].metadata.headers.get(TENANT_HEADER).unwrap(),
        "a"
    );
    fixture.drop().await;
}

/// The query side: a read model whose table carries the tenant (`{tenant}`
/// in its templates) and a policy, written and queried through each
/// tenant's store, answers each tenant with its own rows only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_models_with_the_tenant_policy_answer_each_tenant_alone() {
    const STEPS: &[eventsource_postgres::ReadModelStep] =
        &[eventsource_postgres::ReadModelStep::new(
            1,
            "CREATE TABLE {schema}.totals (
                 tenant_id text NOT NULL DEFAULT {tenant},
                 id text NOT NULL,
                 total bigint NOT NULL,
                 PRIMARY KEY (tenant_id, id));
             ALTER TABLE {schema}.totals ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
             CREATE POLICY tenant_rows ON {schema}.totals
                 USING (tenant_id = {tenant}) WITH CHECK (tenant_id = {tenant})",
        )];
    let fixture = Fixture::new().await;
    let tenants = fixture.conjoined().await;
    let (a, b) = (
        tenants.tenant(&tenant("a")).unwrap(),
        tenants.tenant(&tenant("b")).unwrap(),
    );
    let model_a = eventsource_postgres::PgReadModel::new(&a, "conjoined.totals", 1).unwrap();
    let model_b = eventsource_postgres::PgReadModel::new(&b, "conjoined.totals", 1).unwrap();
    assert_eq!(model_a.migrate(STEPS).await.unwrap(), [1]);
    assert!(
        model_b.migrate(STEPS).await.unwrap().is_empty(),
        "one table for all"
    );

    for (model, store, total) in [(&model_a, &a, 10_i64), (&model_b, &b, 20)] {
        sqlx::query(model.sql("INSERT INTO {schema}.totals (id, total) VALUES ($1, $2)"))
            .bind("order-1")
            .bind(total)
            .execute(store.pool())
            .await
            .unwrap();
    }
    let query = "SELECT id, total FROM {schema}.totals ORDER BY id";
    let seen_b: Vec<(String, i64)> = sqlx::query_as(model_b.sql(query))
        .fetch_all(b.pool())
        .await
        .unwrap();
    assert_eq!(seen_b, [("order-1".to_owned(), 20)]);
    let updated = sqlx::query(model_b.sql("UPDATE {schema}.totals SET total = 0"))
        .execute(b.pool())
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 1);
    let forged = sqlx::query(
        model_b
            .sql("INSERT INTO {schema}.totals (tenant_id, id, total) VALUES ('a', 'order-2', 1)"),
    )
    .execute(b.pool())
    .await
    .unwrap_err();
    assert!(
        forged.to_string().contains("row-level security"),
        "{forged}"
    );
    let seen_a: Vec<(String, i64)> = sqlx::query_as(model_a.sql(query))
        .fetch_all(a.pool())
        .await
        .unwrap();
    assert_eq!(seen_a, [("order-1".to_owned(), 10)]);
    fixture.drop().await;
}

/// A schema becomes conjoined only by `PgConjoined::install`: before it
/// (migrated, no policies) and after a policy is dropped, tenant stores
/// refuse to start, naming what is missing; installing twice is harmless
/// and leaves the tenants apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_stores_refuse_a_schema_without_the_policies() {
    let fixture = Fixture::new().await;
    let plain = PgEventStore::with_options(fixture.app.clone(), fixture.options());
    plain.migrate().await.unwrap();
    let count_policies = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_policies WHERE schemaname = $1")
            .bind(&fixture.schema)
            .fetch_one(&fixture.admin)
            .await
            .unwrap()
    };
    // Migrated only: the columns are there, row-level security is not.
    assert_eq!(count_policies().await, 0);
    let forced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND (c.relrowsecurity OR c.relforcerowsecurity)",
    )
    .bind(&fixture.schema)
    .fetch_one(&fixture.admin)
    .await
    .unwrap();
    assert_eq!(forced, 0, "migration 12 enables no row-level security");
    match PgConjoined::new(fixture.app.clone(), fixture.options()).await {
        Err(ConjoinedError::NotConjoined { schema, missing }) => {
            assert_eq!(schema, fixture.schema);
            assert_eq!(missing.len(), 16, "{missing:?}");
            assert!(missing.contains(&"events.tenant_reads".to_owned()));
        }
        other => panic!("a schema without policies was accepted: {other:?}"),
    }

    assert!(
        PgConjoined::install(&fixture.app, &fixture.options())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(count_policies().await, 16);
    // Twice: the same policies, not more, and no error.
    PgConjoined::install(&fixture.app, &fixture.options())
        .await
        .unwrap();
    assert_eq!(count_policies().await, 16);
    let tenants = PgConjoined::new(fixture.app.clone(), fixture.options())
        .await
        .unwrap();
    let a = tenants.tenant(&tenant("a")).unwrap();
    let b = tenants.tenant(&tenant("b")).unwrap();
    let opened = NewEvent::new("conjoined.Opened", 1, r#"{"account":"a"}"#, Metadata::new());
    a.append(
        "account-1",
        "conjoined.Account",
        ExpectedVersion::NoStream,
        vec![opened],
    )
    .await
    .unwrap();
    assert_eq!(a.stream_version("account-1").await.unwrap(), Some(1));
    assert_eq!(b.stream_version("account-1").await.unwrap(), None);

    // One policy gone (by hand, say): refused again, naming it.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP POLICY tenant_rows ON \"{}\".snapshots",
        fixture.schema
    )))
    .execute(&fixture.admin)
    .await
    .unwrap();
    match PgConjoined::new(fixture.app.clone(), fixture.options()).await {
        Err(ConjoinedError::NotConjoined { missing, .. }) => {
            assert_eq!(missing, ["snapshots.tenant_rows"]);
        }
        other => panic!("a schema missing a policy was accepted: {other:?}"),
    }
    // Forced no more: refused as well.
    PgConjoined::install(&fixture.app, &fixture.options())
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{}\".checkpoints NO FORCE ROW LEVEL SECURITY",
        fixture.schema
    )))
    .execute(&fixture.admin)
    .await
    .unwrap();
    match PgConjoined::new(fixture.app.clone(), fixture.options()).await {
        Err(ConjoinedError::NotConjoined { missing, .. }) => {
            assert_eq!(missing, ["checkpoints.tenant_rows"]);
        }
        other => panic!("a schema with a policy not forced was accepted: {other:?}"),
    }
    tenants.release(&tenant("a")).await;
    tenants.release(&tenant("b")).await;
    fixture.drop().await;
}

/// The plan of `query` (a statement of the store, its parameters as
/// literals) on `pool`, as JSON text.
async fn plan_of(pool: &PgPool, query: &str) -> String {
    let plan: serde_json::Value = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (FORMAT JSON) {query}"
    )))
    .fetch_one(pool)
    .await
    .unwrap();
    plan.to_string()
}

/// Whether `plan` reads `table` only through `index`: no sequential scan,
/// and an index (only) scan or bitmap index scan on that index.
fn uses_index(plan: &str, index: &str) -> bool {
    let index_scan = ["Index Scan", "Index Only Scan", "Bitmap Index Scan"]
        .iter()
        .any(|node| plan.contains(&format!("\"Node Type\":\"{node}\"")));
    !plan.contains("\"Seq Scan\"")
        && index_scan
        && plan.contains(&format!("\"Index Name\":\"{index}\""))
}

/// The tenant goes last in every key, so the store's lookups by stream id
/// (which name no tenant: the policies add it, and bind no superuser) keep
/// their index: a stream load, the append's head probe and a snapshot load
/// are index scans, as a superuser and as a tenant's session, on a schema
/// holding a few thousand rows of several tenants. (Plans, not timings.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_by_stream_keep_their_index_with_tenants() {
    const TENANTS: i64 = 6;
    const STREAMS: i64 = 200;
    const VERSIONS: i64 = 3;
    let fixture = Fixture::new().await;
    PgConjoined::install(&fixture.app, &fixture.options())
        .await
        .unwrap();
    let quoted = format!("\"{}\"", fixture.schema);
    // Rows of every tenant, the same stream ids in each (as superuser: no
    // policy applies to the fixture's own writes).
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {quoted}.events (global_position, transaction_id, stream_id, \
             aggregate_type, stream_version, event_id, event_name, schema_version, payload, \
             metadata, tenant_id) \
         SELECT row_number() OVER (), '1'::xid8, 'account-' || s, 'conjoined.Account', v, \
             gen_random_uuid(), 'conjoined.Opened', 1, '{{}}', \
             jsonb_build_object('headers', jsonb_build_object('tenant', 't' || t)), 't' || t \
         FROM generate_series(1, $1) t, generate_series(1, $2) s, generate_series(1, $3) v"
    )))
    .bind(TENANTS)
    .bind(STREAMS)
    .bind(VERSIONS)
    .execute(&fixture.admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {quoted}.snapshots (stream_id, aggregate_type, version, revision, state, \
             taken_at, tenant_id) \
         SELECT 'account-' || s, 'conjoined.Account', 3, 1, '{{}}', now(), 't' || t \
         FROM generate_series(1, $1) t, generate_series(1, $2) s"
    )))
    .bind(TENANTS)
    .bind(STREAMS)
    .execute(&fixture.admin)
    .await
    .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ANALYZE {quoted}.events; ANALYZE {quoted}.snapshots"
    )))
    .execute(&fixture.admin)
    .await
    .unwrap();

    // The statements' shapes: READ_STREAM, the head probe of APPEND (and
    // STREAM_HEAD), and the snapshot LOAD.
    let stream_load = format!(
        "SELECT global_position, stream_id, aggregate_type, stream_version, event_id, \
             event_name, schema_version, payload::text, metadata::text, recorded_at \
         FROM {quoted}.events WHERE stream_id = 'account-17' AND stream_version >= 1 \
         ORDER BY stream_version LIMIT 500"
    );
    let head_probe = format!(
        "SELECT e.stream_version, e.aggregate_type, e.global_position, e.event_name \
         FROM {quoted}.events e WHERE e.stream_id = 'account-17' \
         ORDER BY e.stream_version DESC LIMIT 1"
    );
    let snapshot_load = format!(
        "SELECT stream_id, aggregate_type, version, revision, state::text, taken_at \
         FROM {quoted}.snapshots WHERE stream_id = 'account-17'"
    );
    let connect = (*fixture.app.connect_options())
        .clone()
        .options([("eventsource.tenant", "t3")]);
    let tenant_session = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(connect)
        .await
        .unwrap();
    for (who, pool) in [("superuser", &fixture.admin), ("tenant", &tenant_session)] {
        for (what, query, index) in [
            ("stream load", &stream_load, "events_stream_version_key"),
            ("head probe", &head_probe, "events_stream_version_key"),
            ("snapshot load", &snapshot_load, "snapshots_pkey"),
        ] {
            let plan = plan_of(pool, query).await;
            assert!(
                uses_index(&plan, index),
                "{what} as {who} does not scan {index}: {plan}"
            );
        }
    }
    // The tenant's session sees its rows only, through the same index.
    let seen: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {quoted}.events WHERE stream_id = 'account-17'"
    )))
    .fetch_one(&tenant_session)
    .await
    .unwrap();
    assert_eq!(seen, VERSIONS);
    tenant_session.close().await;
    fixture.drop().await;
}
