//! Stored payloads validated against the schema of their recorded version
//! on PostgreSQL: a clean store passes, and a row corrupted by hand with an
//! `UPDATE` is found, with its position and what is wrong.

mod common;

use eventsource::prelude::*;
use eventsource::registry::{Catalogue, PayloadCheck, Registry, Sampling};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The event the test stores.
#[derive(Event, Serialize, Deserialize, JsonSchema, Debug)]
#[event(name = "payloads.Deposited")]
pub struct Deposited {
    /// How much.
    pub amount: i64,
    /// Which account.
    pub account: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_corrupted_by_hand_is_found_and_a_clean_store_passes() {
    let store = common::store().await;
    for (i, account) in ["a", "b", "c"].into_iter().enumerate() {
        let event = NewEvent::from_event(
            &Deposited {
                amount: i as i64 + 1,
                account: account.into(),
            },
            Metadata::new(),
        )
        .expect("encodes");
        store
            .append(
                account,
                "payloads.Account",
                ExpectedVersion::NoStream,
                vec![event],
            )
            .await
            .expect("appended");
    }
    let check = PayloadCheck::new(&Catalogue::of(Registry::global()), None).expect("valid schemas");
    let clean = check.run(&store, Sampling::All).await.expect("readable");
    assert!(clean.is_clean(), "{clean}");
    assert_eq!((clean.checked, clean.unchecked), (3, 0));

    // The amount of `b` turned into text by a careless script.
    let sql = format!(
        "UPDATE \"{}\".events SET payload = jsonb_set(payload::jsonb, '{{amount}}', '\"two\"') \
         WHERE stream_id = 'b' RETURNING global_position",
        store.schema()
    );
    let position: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(store.pool())
        .await
        .expect("the row is updated");

    let report = check.run(&store, Sampling::All).await.expect("readable");
    common::drop_schema(&store).await;
    assert_eq!(report.problems.len(), 1, "{report}");
    let problem = &report.problems[0];
    assert_eq!(problem.global_position, position as u64);
    assert_eq!(problem.stream_id, "b");
    assert_eq!(problem.event_name, "payloads.Deposited");
    assert_eq!(problem.schema_version, 1);
    assert_eq!(
        problem.errors,
        ["at /amount: \"two\" is not of type \"integer\""]
    );
}
