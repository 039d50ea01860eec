//! Saga instances, by saga and state.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::{Operations, OpsError};

/// One saga instance as shown to an operator.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SagaInstanceView {
    /// The saga.
    pub saga: String,
    /// The instance's correlation id.
    pub correlation_id: Uuid,
    /// Whether it has ended.
    pub completed: bool,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// Its state (a string when it is not JSON).
    pub state: Value,
}

impl Operations {
    /// The instances of saga `saga` (or of every saga of this program),
    /// only the completed or only the running ones when `completed` says.
    pub async fn saga_instances(
        &self,
        saga: Option<&str>,
        completed: Option<bool>,
    ) -> Result<Vec<SagaInstanceView>, OpsError> {
        let store = self.sagas.as_ref().ok_or_else(|| {
            OpsError::Unavailable("this application's operations have no saga store".to_owned())
        })?;
        let names: Vec<String> = match saga {
            Some(name) => {
                let known = self.saga_names();
                if !known.contains(&name) {
                    return Err(OpsError::UnknownSaga {
                        name: name.to_owned(),
                        known: known.iter().map(|n| (*n).to_owned()).collect(),
                    });
                }
                vec![name.to_owned()]
            }
            None => self.saga_names().iter().map(|n| (*n).to_owned()).collect(),
        };
        let mut views = Vec::new();
        for name in names {
            for (correlation_id, instance) in store.list(&name).await? {
                if completed.is_some_and(|c| c != instance.completed) {
                    continue;
                }
                views.push(SagaInstanceView {
                    saga: name.clone(),
                    correlation_id,
                    completed: instance.completed,
                    updated_at: instance.updated_at,
                    state: serde_json::from_str(&instance.state)
                        .unwrap_or(Value::String(instance.state)),
                });
            }
        }
        Ok(views)
    }

    /// The instance of saga `saga` for `correlation_id`.
    pub async fn saga_instance(
        &self,
        saga: &str,
        correlation_id: Uuid,
    ) -> Result<SagaInstanceView, OpsError> {
        self.saga_instances(Some(saga), None)
            .await?
            .into_iter()
            .find(|i| i.correlation_id == correlation_id)
            .ok_or_else(|| {
                OpsError::NotFound(format!("an instance of saga `{saga}` for {correlation_id}"))
            })
    }
}
