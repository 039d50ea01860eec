//! Crypto-shredding in memory: personal fields stored encrypted, read back
//! plain, and replaced once their subject is forgotten.

use eventsource::StoreError;
use eventsource::memory::InMemoryStore;
use eventsource::prelude::*;
use eventsource::shredding::{InMemoryKeyStore, ShreddingStore, is_redacted};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[event(name = "shred.Registered")]
struct Registered {
    #[event(subject)]
    customer: String,
    #[event(personal, replacement = "(forgotten)")]
    email: String,
    #[event(personal)]
    age: u32,
    plan: String,
}

fn registered(customer: &str, email: &str) -> NewEvent {
    let event = Registered {
        customer: customer.into(),
        email: email.into(),
        age: 41,
        plan: "gold".into(),
    };
    NewEvent::from_event(&event, Metadata::new()).unwrap()
}

async fn payloads(store: &dyn EventStore) -> Vec<(bool, Registered)> {
    let records: Vec<RecordedEvent> = store
        .read_all(0, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    records
        .iter()
        .map(|r| (is_redacted(r), serde_json::from_str(&r.payload).unwrap()))
        .collect()
}

#[tokio::test]
async fn forgetting_a_subject_replaces_its_personal_data_only() {
    let inner = InMemoryStore::new();
    let store = ShreddingStore::new(inner.clone(), InMemoryKeyStore::new());
    for (customer, email) in [("c-1", "zoe@example.com"), ("c-2", "ada@example.com")] {
        store
            .append(
                customer,
                "shred.Customer",
                ExpectedVersion::NoStream,
                vec![registered(customer, email)],
            )
            .await
            .unwrap();
    }
    // Stored encrypted: the plain text is nowhere in the inner store.
    let raw: Vec<RecordedEvent> = inner
        .read_all(0, EventFilter::all())
        .try_collect()
        .await
        .unwrap();
    for record in &raw {
        assert!(
            !record.payload.contains("example.com"),
            "{}",
            record.payload
        );
        // The age is an encrypted value, not the number (whose digits may
        // well occur in the base64 of a ciphertext).
        let stored: serde_json::Value = serde_json::from_str(&record.payload).unwrap();
        assert!(stored["age"]["$encrypted"].is_string(), "{stored}");
        assert!(record.payload.contains("gold"), "other fields stay plain");
    }
    let read = payloads(&store).await;
    assert_eq!(read[0].1.email, "zoe@example.com");
    assert_eq!(read[0].1.age, 41);
    assert!(!read[0].0);

    assert!(store.forget_subject("c-1").await.unwrap());
    let read = payloads(&store).await;
    assert!(
        read[0].0,
        "the forgotten subject's event is marked redacted"
    );
    assert_eq!(read[0].1.email, "(forgotten)");
    assert_eq!(
        read[0].1.age, 0,
        "the type's default replaces a field without a replacement"
    );
    assert_eq!(read[0].1.plan, "gold");
    assert!(!read[1].0);
    assert_eq!(
        read[1].1.email, "ada@example.com",
        "other subjects read unchanged"
    );

    match store
        .append(
            "c-1",
            "shred.Customer",
            ExpectedVersion::Any,
            vec![registered("c-1", "again@example.com")],
        )
        .await
    {
        Err(StoreError::SubjectForgotten { subject }) => assert_eq!(&*subject, "c-1"),
        other => panic!("expected SubjectForgotten, got {other:?}"),
    }
    assert_eq!(inner.len(), 2, "nothing was written");
}
