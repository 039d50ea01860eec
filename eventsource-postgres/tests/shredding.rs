//! Crypto-shredding on PostgreSQL: a subject forgotten, every projection
//! rebuilt, and a `pg_dump` of the store's schema searched for the
//! subject's plain values: none found, while another subject's are.

mod common;

use std::process::Command;
use std::time::Duration;

use eventsource::StoreError;
use eventsource::prelude::*;
use eventsource::shredding::{KeyStore, ShreddingStore, is_redacted};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{AssertSqlSafe, PgConnection};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "pgshred.Registered")]
struct Registered {
    #[event(subject)]
    customer: String,
    #[event(personal, replacement = "(forgotten)")]
    email: String,
}

/// Customers' e-mail addresses in `<schema>.customers`.
struct Customers {
    schema: String,
}

#[projection(name = "pgshred.customers")]
impl Customers {
    async fn on_registered(
        &mut self,
        e: &Registered,
        ctx: &mut PgConnection,
    ) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO \"{s}\".customers (customer, email) VALUES ($1, $2) \
             ON CONFLICT (customer) DO UPDATE SET email = EXCLUDED.email"
        )))
        .bind(&e.customer)
        .bind(&e.email)
        .execute(ctx)
        .await?;
        Ok(())
    }

    #[reset]
    async fn clear(&mut self, ctx: &mut PgConnection) -> Result<(), sqlx::Error> {
        let s = &self.schema;
        sqlx::raw_sql(AssertSqlSafe(format!("TRUNCATE \"{s}\".customers")))
            .execute(ctx)
            .await?;
        Ok(())
    }
}

const NAME: &str = "pgshred.customers";
const WAIT: Duration = Duration::from_secs(20);

/// The schema's data as `pg_dump` writes it.
fn dump(schema: &str) -> String {
    let output = Command::new("pg_dump")
        .arg("--data-only")
        .arg("--schema")
        .arg(schema)
        .arg(common::database_url())
        .output()
        .unwrap_or_else(|e| {
            panic!("pg_dump does not run ({e}): install the PostgreSQL client (postgresql-client)")
        });
    assert!(
        output.status.success(),
        "pg_dump failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forgotten_subject_leaves_no_plain_value_in_the_database() {
    let store = common::store().await;
    let s = store.schema().to_owned();
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE TABLE \"{s}\".customers (customer text PRIMARY KEY, email text NOT NULL)"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    let shredding = ShreddingStore::new(store.clone(), store.key_store());
    let tag = eventsource::uuid::Uuid::now_v7().simple().to_string();
    let forgotten = format!("zoe-{tag}@example.com");
    let kept = format!("ada-{tag}@example.com");
    let mut head = 0;
    for (customer, email) in [("c-1", &forgotten), ("c-2", &kept)] {
        let event = Registered {
            customer: customer.into(),
            email: email.clone(),
        };
        head = shredding
            .append(
                customer,
                "pgshred.Customer",
                ExpectedVersion::NoStream,
                vec![NewEvent::from_event(&event, Metadata::new()).unwrap()],
            )
            .await
            .unwrap()
            .last_position;
    }
    let runner = ProjectionRunner::new(shredding.clone()).unwrap();
    runner
        .start(Customers { schema: s.clone() }, store.projection_backend())
        .await
        .unwrap();
    runner.wait_until(NAME, head, WAIT).await.unwrap();
    let before = dump(&s);
    assert!(
        before.contains(&forgotten),
        "the read model holds the address"
    );

    assert!(shredding.forget_subject("c-1").await.unwrap());
    runner.rebuild(NAME, |_| {}).await.unwrap();
    runner.wait_until(NAME, head, WAIT).await.unwrap();
    runner.shutdown().await;

    let after = dump(&s);
    assert!(
        !after.contains(&forgotten) && !after.contains(&format!("zoe-{tag}")),
        "the forgotten subject's address is still in the database"
    );
    assert!(
        after.contains(&kept),
        "another subject's address is searched for and found"
    );
    let emails: Vec<(String, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT customer, email FROM \"{s}\".customers ORDER BY customer"
    )))
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        emails,
        [
            ("c-1".to_owned(), "(forgotten)".to_owned()),
            ("c-2".to_owned(), kept.clone())
        ]
    );

    let read: Vec<RecordedEvent> = shredding
        .read_all(0, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    assert!(is_redacted(&read[0]));
    assert!(!is_redacted(&read[1]));
    assert!(read[1].payload.contains(&kept));

    match shredding
        .append(
            "c-1",
            "pgshred.Customer",
            ExpectedVersion::Any,
            vec![
                NewEvent::from_event(
                    &Registered {
                        customer: "c-1".into(),
                        email: forgotten.clone(),
                    },
                    Metadata::new(),
                )
                .unwrap(),
            ],
        )
        .await
    {
        Err(StoreError::SubjectForgotten { subject }) => assert_eq!(&*subject, "c-1"),
        other => panic!("expected SubjectForgotten, got {other:?}"),
    }
    assert_eq!(
        store.stream_version("c-1").await.unwrap(),
        Some(1),
        "nothing was written"
    );
    let keys = store.key_store();
    assert!(keys.key("c-1").await.unwrap().is_none());
    assert!(keys.key("c-2").await.unwrap().is_some());
    assert!(
        !keys.forget("c-1").await.unwrap(),
        "forgetting twice finds no key"
    );
    common::drop_schema(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_key_store_passes_the_key_checks() {
    let stores = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let report = eventsource::testing::conformance::run_key_store(|| {
        let stores = stores.clone();
        async move {
            let store = common::store().await;
            let keys = store.key_store();
            stores.lock().unwrap().push(store);
            std::sync::Arc::new(keys) as std::sync::Arc<dyn KeyStore>
        }
    })
    .await;
    println!("{report}");
    let created: Vec<_> = stores.lock().unwrap().drain(..).collect();
    for store in &created {
        common::drop_schema(store).await;
    }
    report.assert_passed();
    assert_eq!(report.results().len(), 3);
}
