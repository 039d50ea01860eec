//! The PostgreSQL saga store keeps a completed instance as it is: a late
//! save (from a processor that lost its lease in the middle of an event)
//! does not reopen it. The in-memory store answers the same
//! (`eventsource/tests/saga_store.rs`).

mod common;

use eventsource::chrono::Utc;
use eventsource::saga::{SagaInstance, SagaStore};
use uuid::Uuid;

fn instance(state: &str, completed: bool) -> SagaInstance {
    SagaInstance {
        state: state.to_owned(),
        completed,
        updated_at: Utc::now(),
    }
}

#[tokio::test]
async fn a_completed_instance_is_not_reopened_by_a_late_save() {
    let store = common::store().await;
    let sagas = store.saga_store();
    let id = Uuid::now_v7();
    sagas
        .save("s", id, instance(r#"{"step":1}"#, false))
        .await
        .unwrap();
    sagas
        .save("s", id, instance(r#"{"step":2}"#, false))
        .await
        .unwrap();
    assert_eq!(
        sagas.load("s", id).await.unwrap().unwrap().state,
        r#"{"step": 2}"#
    );
    sagas
        .save("s", id, instance(r#"{"step":3}"#, true))
        .await
        .unwrap();
    sagas
        .save("s", id, instance(r#"{"step":2}"#, false))
        .await
        .unwrap();
    let kept = sagas.load("s", id).await.unwrap().unwrap();
    assert!(kept.completed, "still completed");
    assert_eq!(kept.state, r#"{"step": 3}"#, "the completed state is kept");
    common::drop_schema(&store).await;
}
