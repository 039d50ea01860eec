//! Saga deadlines in memory, kept by
//! [`InMemorySagaStore`](super::InMemorySagaStore), which implements
//! `DeadlineStore` over these operations.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::saga::Deadline;

/// One stored deadline and its claim, if any.
#[derive(Debug)]
struct Entry {
    deadline: Deadline,
    claim: Option<DateTime<Utc>>,
}

/// The deadlines of every saga, by id.
#[derive(Debug, Default)]
pub(crate) struct Deadlines(BTreeMap<Uuid, Entry>);

impl Deadlines {
    pub(crate) fn schedule(&mut self, deadline: Deadline) {
        let deadlines = self;
        deadlines.0.retain(|_, e| {
            !(e.deadline.saga == deadline.saga
                && e.deadline.correlation_id == deadline.correlation_id
                && e.deadline.name == deadline.name)
        });
        deadlines.0.insert(
            deadline.id,
            Entry {
                deadline,
                claim: None,
            },
        );
    }

    pub(crate) fn cancel(&mut self, saga: &str, correlation_id: Uuid, name: &str) -> bool {
        let deadlines = self;
        let before = deadlines.0.len();
        deadlines.0.retain(|_, e| {
            !(e.deadline.saga == saga
                && e.deadline.correlation_id == correlation_id
                && e.deadline.name == name)
        });
        deadlines.0.len() < before
    }

    pub(crate) fn claim_due(
        &mut self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Vec<Deadline> {
        let mut due: Vec<&mut Entry> = self
            .0
            .values_mut()
            .filter(|e| e.deadline.due_at <= now && e.claim.is_none_or(|c| c < now))
            .collect();
        due.sort_by_key(|e| (e.deadline.due_at, e.deadline.id));
        due.into_iter()
            .take(limit)
            .map(|e| {
                e.claim = Some(until);
                e.deadline.clone()
            })
            .collect()
    }

    pub(crate) fn fired(&mut self, id: Uuid) {
        self.0.remove(&id);
    }

    pub(crate) fn pending(&self, saga: &str) -> Vec<Deadline> {
        let mut pending: Vec<Deadline> = self
            .0
            .values()
            .filter(|e| e.deadline.saga == saga)
            .map(|e| e.deadline.clone())
            .collect();
        pending.sort_by_key(|d| (d.due_at, d.id));
        pending
    }
}
