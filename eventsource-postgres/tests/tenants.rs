//! Schema-per-tenant isolation: through every public API of tenant `b`'s
//! stores, nothing of tenant `a` can be read, subscribed to, appended to or
//! projected; tenant ids are validated; the tenant flows through metadata,
//! the bus's guard and saga commands.

mod common;

use std::time::Duration;

use eventsource::memory::InMemoryProjectionBackend;
use eventsource::prelude::*;
use eventsource::saga::SagaStore;
use eventsource::store::{
    CheckpointStore, EventFilter, EventStore, Snapshot, SnapshotStore, StreamQuery,
    SubscriptionItem,
};
use eventsource::{BoxError, CommandError, Error};
use eventsource_postgres::{
    HeaderTenantResolver, PgTenants, TENANT_HEADER, TenantError, TenantGuard, TenantId,
};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

const WAIT: Duration = Duration::from_secs(20);

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "tenancy.Opened")]
struct Opened {
    account: String,
}

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "tenancy.Welcomed")]
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
#[aggregate(name = "tenancy.Account")]
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

#[saga(name = "tenancy.welcoming")]
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

/// Counts the events a projection of one tenant sees.
#[derive(Default, Clone)]
struct Seen(std::sync::Arc<std::sync::Mutex<Vec<String>>>);

#[projection(name = "tenancy.seen")]
impl Seen {
    fn on_opened(&mut self, e: &Opened) {
        self.0.lock().unwrap().push(e.account.clone());
    }
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

async fn tenants() -> PgTenants {
    let pool = common::pool(8, "eventsource-tests-tenants").await;
    let prefix = format!("es_tn{:08x}_", fastrand::u32(..));
    let tenants = PgTenants::new(pool, &prefix).unwrap();
    tenants.migrate(&[tenant("a"), tenant("b")]).await.unwrap();
    tenants
}

async fn drop_all(tenants: &PgTenants) {
    for id in tenants.existing().await.unwrap() {
        common::drop_schema(&tenants.store(&id).unwrap()).await;
    }
}

#[test]
fn tenant_ids_and_prefixes_are_validated() {
    for bad in [
        "",
        "A",
        "a-b",
        "a;drop",
        "1a",
        "_a",
        "a b",
        "é",
        &"a".repeat(41),
    ] {
        assert!(
            matches!(TenantId::parse(bad), Err(TenantError::InvalidId { .. })),
            "`{bad}` accepted"
        );
    }
    assert_eq!(TenantId::parse("acme_2").unwrap().as_str(), "acme_2");
    let resolver = HeaderTenantResolver;
    use eventsource_postgres::TenantResolver;
    assert_eq!(
        resolver.resolve(&Metadata::new()),
        Err(TenantError::Missing)
    );
    let mut meta = Metadata::new();
    meta.headers.insert(TENANT_HEADER.into(), "Evil\"".into());
    assert!(matches!(
        resolver.resolve(&meta),
        Err(TenantError::InvalidId { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_cannot_reach_another_through_any_public_api() {
    let tenants = tenants().await;
    let (a, b) = (tenant("a"), tenant("b"));
    let (store_a, store_b) = (tenants.store(&a).unwrap(), tenants.store(&b).unwrap());
    assert_ne!(store_a.schema(), store_b.schema());

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
    SnapshotStore::save(
        &store_a,
        Snapshot {
            stream_id: stream.as_str().into(),
            aggregate_type: "tenancy.Account".into(),
            version: 1,
            revision: 0,
            state: r#"{"open":true}"#.into(),
            taken_at: eventsource::clock::Clock::system().now(),
        },
    )
    .await
    .unwrap();
    assert!(
        SnapshotStore::load(&store_a, &stream)
            .await
            .unwrap()
            .is_some()
    );
    CheckpointStore::save(&store_a, "tenancy.seen", 1)
        .await
        .unwrap();

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
    assert!(
        SnapshotStore::load(&store_b, &stream)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        CheckpointStore::load(&store_b, "tenancy.seen")
            .await
            .unwrap(),
        None
    );
    assert!(
        store_b
            .saga_store()
            .list("tenancy.welcoming")
            .await
            .unwrap()
            .is_empty()
    );

    // Subscriptions: b's catches up on nothing, then sees only b's events.
    let mut sub = store_b.subscribe(1, EventFilter::all());
    let first = tokio::time::timeout(WAIT, sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        matches!(first, SubscriptionItem::CaughtUp { .. }),
        "{first:?}"
    );
    bus_a
        .dispatch(Open {
            account: "y".into(),
        })
        .await
        .unwrap();
    // Only progress markers may come (positions are shared by the cluster),
    // never an event.
    let quiet = tokio::time::timeout(Duration::from_millis(500), async {
        while let Some(item) = sub.next().await {
            if let Ok(SubscriptionItem::CaughtUp { .. }) = item {
                continue;
            }
            return Some(item);
        }
        None
    })
    .await;
    assert!(quiet.is_err(), "b's subscription delivered: {quiet:?}");

    // Appends: b's bus writes b's stream, a's is untouched; a command
    // claiming tenant a on b's bus is refused before any load.
    let bus_b = CommandBus::new(store_b.clone())
        .unwrap()
        .with_interceptor(TenantGuard::new(b.clone()));
    let mut claims_a = Metadata::new();
    claims_a.headers.insert(TENANT_HEADER.into(), "a".into());
    let err = bus_b
        .dispatch_with(
            Welcome {
                account: "x".into(),
            },
            claims_a,
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
    // Welcome on b needs the account on b: it does not find a's.
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
    bus_b
        .dispatch(Open {
            account: "x".into(),
        })
        .await
        .unwrap();
    assert_eq!(store_a.stream_version(&stream).await.unwrap(), Some(1));
    assert_eq!(store_b.stream_version(&stream).await.unwrap(), Some(1));
    let from_b = tokio::time::timeout(WAIT, async {
        loop {
            match sub.next().await {
                Some(Ok(SubscriptionItem::CaughtUp { .. })) => continue,
                other => return other,
            }
        }
    })
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    match from_b {
        SubscriptionItem::Event(e) => {
            assert_eq!(
                e.metadata.headers.get(TENANT_HEADER).map(String::as_str),
                Some("b")
            );
        }
        other => panic!("expected b's event, got {other:?}"),
    }

    // Projections: a runner on b projects b's events only.
    let seen = Seen::default();
    let runner = ProjectionRunner::new(store_b.clone()).unwrap();
    runner
        .start(seen.clone(), InMemoryProjectionBackend::new())
        .await
        .unwrap();
    let head = store_b.head_position().await.unwrap();
    runner.settle(head, WAIT).await.unwrap();
    assert_eq!(*seen.0.lock().unwrap(), ["x"]);
    runner.shutdown().await;
    drop_all(&tenants).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tenant_flows_through_events_and_saga_commands() {
    let tenants = tenants().await;
    let a = tenant("a");
    let store = tenants.store(&a).unwrap();
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
    let events: Vec<RecordedEvent> = store
        .read_all(1, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    let names: Vec<&str> = events.iter().map(|e| &*e.event_name).collect();
    assert_eq!(names, ["tenancy.Opened", "tenancy.Welcomed"]);
    for event in &events {
        assert_eq!(
            event
                .metadata
                .headers
                .get(TENANT_HEADER)
                .map(String::as_str),
            Some("a")
        );
    }
    // A store resolved from the metadata of a's events is a's.
    let resolved = tenants
        .resolve(&HeaderTenantResolver, &events[1].metadata)
        .unwrap();
    assert_eq!(resolved.schema(), store.schema());
    // Migrating every tenant again applies nothing new.
    let again = tenants.migrate_all().await.unwrap();
    assert_eq!(again.len(), 2);
    assert!(again.iter().all(|(_, applied)| applied.is_empty()));
    runner.shutdown().await;
    drop_all(&tenants).await;
}
