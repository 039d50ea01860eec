//! How command and query errors become problems: the status of each, and
//! what a client may see of them.
//!
//! | error | status |
//! |---|---|
//! | the aggregate does not exist | 404 |
//! | it already exists (a creating command) | 409 |
//! | version conflict (`If-Match`, or retries ran out) | 409 |
//! | the domain rejected the command | 422, the domain error serialized as `error` |
//! | a store cannot be reached | 503, `Retry-After` |
//! | a read model did not reach the position asked for in time | 503, `Retry-After` |
//! | anything else | 500, logged with an id; nothing of it is shown |

use std::fmt::Display;

use axum::http::StatusCode;
use eventsource::projection::RunnerError;
use eventsource::query::QueryError;
use eventsource::{CommandError, Error, StoreError};
use serde::Serialize;

use crate::problem::Problem;

impl<E: Serialize + Display> From<CommandError<E>> for Problem {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Rejected(rejection) => rejected(&rejection),
            CommandError::Failed(error) => Problem::from(error),
            other => Problem::internal(&other),
        }
    }
}

/// 422 with the domain error serialized.
fn rejected<E: Serialize + Display>(rejection: &E) -> Problem {
    let problem = Problem::typed(
        StatusCode::UNPROCESSABLE_ENTITY,
        "rejected",
        "Command rejected",
    )
    .with_detail(rejection.to_string());
    match serde_json::to_value(rejection) {
        Ok(value) => problem.with_extension("error", value),
        Err(error) => Problem::internal(&format!(
            "cannot serialize the domain error `{rejection}`: {error}"
        )),
    }
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        match error {
            Error::NotFound { .. } => Problem::not_found(error.to_string()),
            Error::AlreadyExists { version, .. } => {
                Problem::typed(StatusCode::CONFLICT, "already-exists", "Already exists")
                    .with_detail(error.to_string())
                    .with_extension("current_version", version)
            }
            Error::Store(store) => Problem::from(store),
            other => Problem::internal(&other),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match &error {
            StoreError::Conflict {
                expected, actual, ..
            } => {
                let problem =
                    Problem::typed(StatusCode::CONFLICT, "version-conflict", "Version conflict")
                        .with_detail(format!(
                            "the resource changed: expected {expected}, it is at {}",
                            actual.map_or_else(
                                || "no version".to_owned(),
                                |v| format!("version {v}")
                            )
                        ));
                match actual {
                    Some(version) => problem.with_extension("current_version", *version),
                    None => problem,
                }
            }
            StoreError::Connection(_) => Problem::unavailable(&error),
            // A deleted stream, or a forgotten subject, is gone for good:
            // retrying the same request cannot succeed.
            StoreError::StreamDeleted { .. } => {
                Problem::typed(StatusCode::GONE, "stream-deleted", "Deleted")
                    .with_detail(error.to_string())
            }
            StoreError::SubjectForgotten { .. } => {
                Problem::typed(StatusCode::GONE, "subject-forgotten", "Subject forgotten")
                    .with_detail(error.to_string())
            }
            StoreError::StreamNotFound { .. } => Problem::not_found(error.to_string()),
            _ => Problem::internal(&error),
        }
    }
}

impl From<QueryError> for Problem {
    fn from(error: QueryError) -> Self {
        match &error {
            QueryError::Runner(RunnerError::Timeout {
                position, reached, ..
            }) => Problem::typed(
                StatusCode::SERVICE_UNAVAILABLE,
                "not-caught-up",
                "Read model behind",
            )
            .with_detail(format!(
                "the read model has not reached position {position} yet; try again shortly"
            ))
            .with_extension("position", *position)
            .with_extension(
                "reached",
                reached.map_or(serde_json::Value::Null, Into::into),
            )
            .with_retry_after(std::time::Duration::from_secs(1)),
            _ if error.is_unavailable() => Problem::unavailable(&error),
            _ => Problem::internal(&error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use eventsource::command::NoRejection;
    use eventsource::{ExpectedVersion, StoreError};

    use super::*;

    fn status(problem: Problem) -> u16 {
        problem.status
    }

    #[test]
    fn each_failure_has_its_status() {
        let stream_id: Arc<str> = "a.A-1".into();
        let not_found = Error::NotFound {
            aggregate: "a.A",
            stream_id: stream_id.clone(),
        };
        assert_eq!(
            status(CommandError::<NoRejection>::Failed(not_found).into()),
            404
        );
        let exists = Error::AlreadyExists {
            aggregate: "a.A",
            stream_id: stream_id.clone(),
            version: 3,
        };
        assert_eq!(
            status(CommandError::<NoRejection>::Failed(exists).into()),
            409
        );
        let conflict = StoreError::Conflict {
            stream_id,
            expected: ExpectedVersion::Exact(1),
            actual: Some(2),
        };
        let problem: Problem = CommandError::<NoRejection>::from(conflict).into();
        assert_eq!(
            (problem.status, &problem.extensions["current_version"]),
            (409, &2.into())
        );
        let deleted = StoreError::StreamDeleted {
            stream_id: "a.A-1".into(),
        };
        let problem: Problem = CommandError::<NoRejection>::from(deleted).into();
        assert_eq!(problem.status, 410);
        let forgotten = StoreError::SubjectForgotten {
            subject: "c-1".into(),
        };
        let problem: Problem = CommandError::<NoRejection>::from(forgotten).into();
        assert_eq!(problem.status, 410);
        let gone = StoreError::Connection("reset by peer".into());
        let problem: Problem = CommandError::<NoRejection>::from(gone).into();
        assert_eq!(problem.status, 503);
        assert!(!problem.to_string().contains("reset by peer"), "{problem}");
        let corrupt = StoreError::Corrupt {
            global_position: 9,
            reason: "secret detail".into(),
        };
        let problem: Problem = CommandError::<NoRejection>::from(corrupt).into();
        assert_eq!(problem.status, 500);
        let shown = serde_json::to_string(&problem).unwrap();
        assert!(shown.contains("error_id"), "{shown}");
        assert!(!shown.contains("secret detail"), "{shown}");
    }

    #[test]
    fn a_rejection_is_422_with_the_domain_error() {
        #[derive(Serialize)]
        struct TooLow {
            min: u32,
        }
        impl Display for TooLow {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "at least {}", self.min)
            }
        }
        let problem: Problem = CommandError::Rejected(TooLow { min: 3 }).into();
        assert_eq!(problem.status, 422);
        assert_eq!(problem.detail.as_deref(), Some("at least 3"));
        assert_eq!(problem.extensions["error"], serde_json::json!({"min": 3}));
    }

    #[test]
    fn query_failures_have_their_status() {
        let timeout = QueryError::Runner(RunnerError::Timeout {
            name: "p".into(),
            position: 7,
            reached: Some(5),
        });
        let problem = Problem::from(timeout);
        assert_eq!((problem.status, problem.retry_after.is_some()), (503, true));
        let unavailable = QueryError::Handler {
            query: "q",
            source: Box::new(StoreError::Connection("refused".into())),
        };
        assert_eq!(Problem::from(unavailable).status, 503);
        let failed = QueryError::Handler {
            query: "q",
            source: "the table is missing".into(),
        };
        let problem = Problem::from(failed);
        assert_eq!(problem.status, 500);
        assert!(!serde_json::to_string(&problem).unwrap().contains("table"));
    }
}
