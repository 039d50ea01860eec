//! Saga deadline stores ([`DeadlineStore`]): their own small suite, run by
//! [`run_deadlines`](super::run_deadlines) with a factory of fresh stores.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::Outcome;
use super::support::{Step, ensure};
use crate::clock::Clock;
use crate::saga::{Deadline, DeadlineStore};

/// A store under test.
pub(super) type Deadlines = Arc<dyn DeadlineStore>;

/// A whole second, so stores keeping microseconds compare equal.
fn base() -> DateTime<Utc> {
    let now = Clock::current().now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

fn deadline(correlation_id: Uuid, name: &str, due_at: DateTime<Utc>) -> Deadline {
    Deadline {
        id: Clock::current().uuid_v7(),
        saga: "conformance.saga".into(),
        correlation_id,
        name: name.into(),
        due_at,
        payload: r#"{"n":1}"#.into(),
    }
}

/// Whether two deadlines are the same, payloads compared as JSON values (a
/// store may normalise their text).
fn same(a: &Deadline, b: &Deadline) -> bool {
    let json = |d: &Deadline| serde_json::from_str::<serde_json::Value>(&d.payload).ok();
    a.id == b.id
        && a.saga == b.saga
        && a.correlation_id == b.correlation_id
        && a.name == b.name
        && a.due_at == b.due_at
        && json(a).is_some()
        && json(a) == json(b)
}

pub(super) async fn due_deadlines_are_claimed_once_earliest_first(store: Deadlines) -> Outcome {
    let now = base();
    let instance = Clock::current().uuid_v7();
    let late = deadline(instance, "late", now - Duration::hours(10));
    let soon = deadline(instance, "soon", now - Duration::seconds(1));
    let later = deadline(instance, "later", now + Duration::hours(1));
    for d in [&soon, &later, &late] {
        store.schedule(d.clone()).await.step("schedule")?;
    }
    let owner = Clock::current().uuid_v7();
    let until = now + Duration::seconds(30);
    let due = store.claim_due(now, owner, until, 10).await.step("claim")?;
    let names: Vec<&str> = due.iter().map(|d| d.name.as_str()).collect();
    ensure!(
        names == ["late", "soon"],
        "claimed {names:?}, expected [late, soon]"
    );
    ensure!(
        same(&due[0], &late),
        "the claimed deadline {:?} differs from {late:?}",
        due[0]
    );
    let again = store
        .claim_due(now, owner, until, 10)
        .await
        .step("claim again")?;
    ensure!(
        again.is_empty(),
        "claimed deadlines were claimed again: {again:?}"
    );
    // Once the claim ran out, another claimer may take them.
    let after = until + Duration::seconds(1);
    let retaken = store
        .claim_due(
            after,
            Clock::current().uuid_v7(),
            after + Duration::seconds(30),
            10,
        )
        .await
        .step("claim after the lease")?;
    ensure!(retaken.len() == 2, "after the lease, claimed {retaken:?}");
    Ok(())
}

pub(super) async fn a_claim_takes_at_most_the_limit(store: Deadlines) -> Outcome {
    let now = base();
    for i in 0..5 {
        let d = deadline(Clock::current().uuid_v7(), &format!("d{i}"), now);
        store.schedule(d).await.step("schedule")?;
    }
    let owner = Clock::current().uuid_v7();
    let until = now + Duration::seconds(30);
    let first = store.claim_due(now, owner, until, 3).await.step("claim")?;
    let second = store.claim_due(now, owner, until, 3).await.step("claim")?;
    ensure!(
        first.len() == 3 && second.len() == 2,
        "claimed {} then {}, expected 3 then 2",
        first.len(),
        second.len()
    );
    Ok(())
}

pub(super) async fn scheduling_again_replaces_and_cancel_removes(store: Deadlines) -> Outcome {
    let now = base();
    let instance = Clock::current().uuid_v7();
    store
        .schedule(deadline(instance, "remind", now + Duration::hours(1)))
        .await
        .step("schedule")?;
    let replaced = deadline(instance, "remind", now + Duration::hours(2));
    store.schedule(replaced.clone()).await.step("reschedule")?;
    let pending = store.pending("conformance.saga").await.step("pending")?;
    ensure!(
        pending.len() == 1 && same(&pending[0], &replaced),
        "pending {pending:?}, expected only {replaced:?}"
    );
    let other = Clock::current().uuid_v7();
    let removed = store
        .cancel("conformance.saga", other, "remind")
        .await
        .step("cancel another instance's")?;
    ensure!(
        !removed,
        "cancelled a deadline of an instance that has none"
    );
    let removed = store
        .cancel("conformance.saga", instance, "remind")
        .await
        .step("cancel")?;
    ensure!(removed, "cancel found no deadline");
    let pending = store.pending("conformance.saga").await.step("pending")?;
    ensure!(pending.is_empty(), "pending after cancel: {pending:?}");
    Ok(())
}

pub(super) async fn fired_deadlines_are_gone(store: Deadlines) -> Outcome {
    let now = base();
    let d = deadline(Clock::current().uuid_v7(), "once", now);
    store.schedule(d.clone()).await.step("schedule")?;
    let owner = Clock::current().uuid_v7();
    let due = store
        .claim_due(now, owner, now + Duration::seconds(30), 10)
        .await
        .step("claim")?;
    ensure!(due.len() == 1, "claimed {due:?}");
    store.fired(d.id).await.step("fired")?;
    let later = now + Duration::hours(1);
    let due = store
        .claim_due(later, owner, later + Duration::seconds(30), 10)
        .await
        .step("claim later")?;
    ensure!(
        due.is_empty(),
        "a fired deadline was claimed again: {due:?}"
    );
    let pending = store.pending("conformance.saga").await.step("pending")?;
    ensure!(pending.is_empty(), "pending after firing: {pending:?}");
    Ok(())
}
