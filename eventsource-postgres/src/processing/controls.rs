//! Control requests on PostgreSQL (table `projection_controls`): recorded
//! by operators, carried out by the lease owner of whichever process, and
//! announced on the store's control channel so runners and waiting
//! operators wake at once (both also poll).

use std::sync::Arc;

use async_trait::async_trait;
use eventsource::StoreError;
use eventsource::clock::Clock;
use eventsource::projection::{ControlCommand, ControlRequest, ControlStatus, ControlStore};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row};
use tokio::sync::watch;
use uuid::Uuid;

use crate::error::{store_error, to_i64};
use crate::notify::Notifications;
use crate::schema::Identifier;
use crate::sql::Sql;

#[cfg(test)]
const COLUMNS: &str = "id, projection, command, argument, requested_by, requested_at, status, \
handled_by, updated_at, outcome";

/// Records request `$1` for projection `$2`: command `$3` with argument `$4`, by `$5`.
const REQUEST: &str = "\
INSERT INTO {schema}.projection_controls (id, projection, command, argument, requested_by)
VALUES ($1, $2, $3, $4, $5)
RETURNING id, projection, command, argument, requested_by, requested_at, status,
    handled_by, updated_at, outcome";

const GET: &str = "\
SELECT id, projection, command, argument, requested_by, requested_at, status,
    handled_by, updated_at, outcome
FROM {schema}.projection_controls WHERE id = $1";

const PENDING: &str = "\
SELECT id, projection, command, argument, requested_by, requested_at, status,
    handled_by, updated_at, outcome
FROM {schema}.projection_controls
WHERE projection = $1 AND status = 'pending'
ORDER BY requested_at, id";

/// Whether the latest pause or resume of `$1` that still stands is a pause.
const PAUSED: &str = "\
SELECT command = 'pause' FROM {schema}.projection_controls
WHERE projection = $1 AND command IN ('pause', 'resume') AND status IN ('pending', 'done')
ORDER BY requested_at DESC, id DESC LIMIT 1";

/// Moves request `$1` to status `$2` for owner `$3` with outcome `$4`,
/// unless it is final already.
const FINISH: &str = "\
UPDATE {schema}.projection_controls
SET status = $2, handled_by = $3, outcome = $4, updated_at = clock_timestamp()
WHERE id = $1 AND status IN ('pending', 'running')";

const CANCEL: &str = "\
UPDATE {schema}.projection_controls
SET status = 'cancelled', updated_at = clock_timestamp()
WHERE id = $1 AND status = 'pending'";

/// The latest `$2` requests, of projection `$1` or (when null) of all.
const HISTORY: &str = "\
SELECT id, projection, command, argument, requested_by, requested_at, status,
    handled_by, updated_at, outcome
FROM {schema}.projection_controls
WHERE $1::text IS NULL OR projection = $1
ORDER BY requested_at DESC, id DESC LIMIT $2";

/// The statements of the control store.
#[derive(Debug)]
pub(crate) struct Statements {
    request: Sql,
    get: Sql,
    pending: Sql,
    paused: Sql,
    finish: Sql,
    cancel: Sql,
    history: Sql,
}

impl Statements {
    pub(crate) fn new(schema: &Identifier) -> Self {
        Self {
            request: Sql::new(REQUEST, schema),
            get: Sql::new(GET, schema),
            pending: Sql::new(PENDING, schema),
            paused: Sql::new(PAUSED, schema),
            finish: Sql::new(FINISH, schema),
            cancel: Sql::new(CANCEL, schema),
            history: Sql::new(HISTORY, schema),
        }
    }

    /// Every statement, named, for the test that prints them.
    #[cfg(test)]
    pub(crate) fn all(&self) -> Vec<(&'static str, &Sql)> {
        vec![
            ("request_control", &self.request),
            ("get_control", &self.get),
            ("pending_controls", &self.pending),
            ("paused", &self.paused),
            ("finish_control", &self.finish),
            ("cancel_control", &self.cancel),
            ("control_history", &self.history),
        ]
    }
}

/// A [`ControlStore`] in the store's schema (table `projection_controls`).
///
/// Give it to every runner (`ProjectionRunner::with_control`) and to the
/// operations (`eventsource::ops::Operations::with_control`): requests
/// recorded by one process are carried out by the lease owner in another.
#[derive(Clone, Debug)]
pub struct PgControlStore {
    pool: PgPool,
    sql: Arc<Statements>,
    notifications: Arc<Notifications>,
    clock: Clock,
}

impl PgControlStore {
    pub(crate) fn new(
        pool: PgPool,
        sql: Arc<Statements>,
        notifications: Arc<Notifications>,
        clock: Clock,
    ) -> Self {
        Self {
            pool,
            sql,
            notifications,
            clock,
        }
    }

    async fn fetch_all(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<ControlRequest>, StoreError> {
        let rows = query.fetch_all(&self.pool).await.map_err(store_error)?;
        rows.iter().map(request).collect()
    }
}

/// Decodes a `projection_controls` row.
fn request(row: &PgRow) -> Result<ControlRequest, StoreError> {
    let argument: Option<i64> = row.try_get("argument").map_err(store_error)?;
    let argument = argument.and_then(|a| u64::try_from(a).ok());
    let command: String = row.try_get("command").map_err(store_error)?;
    let status: String = row.try_get("status").map_err(store_error)?;
    Ok(ControlRequest {
        id: row.try_get("id").map_err(store_error)?,
        projection: row.try_get("projection").map_err(store_error)?,
        command: ControlCommand::from_parts(&command, argument)?,
        requested_by: row.try_get("requested_by").map_err(store_error)?,
        requested_at: row.try_get("requested_at").map_err(store_error)?,
        status: status.parse()?,
        handled_by: row.try_get("handled_by").map_err(store_error)?,
        updated_at: row.try_get("updated_at").map_err(store_error)?,
        outcome: row.try_get("outcome").map_err(store_error)?,
    })
}

#[async_trait]
impl ControlStore for PgControlStore {
    async fn request(
        &self,
        projection: &str,
        command: ControlCommand,
        requested_by: Option<&str>,
    ) -> Result<ControlRequest, StoreError> {
        let argument = command
            .argument()
            .map(|a| to_i64("control argument", a))
            .transpose()?;
        let row = sqlx::query(self.sql.request.get())
            .bind(self.clock.uuid_v7())
            .bind(projection)
            .bind(command.name())
            .bind(argument)
            .bind(requested_by)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        self.notifications.committed(&self.pool);
        request(&row)
    }

    async fn get(&self, id: Uuid) -> Result<Option<ControlRequest>, StoreError> {
        let row = sqlx::query(self.sql.get.get())
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(request).transpose()
    }

    async fn pending(&self, projection: &str) -> Result<Vec<ControlRequest>, StoreError> {
        self.fetch_all(sqlx::query(self.sql.pending.get()).bind(projection))
            .await
    }

    async fn paused(&self, projection: &str) -> Result<bool, StoreError> {
        let paused: Option<bool> = sqlx::query_scalar(self.sql.paused.get())
            .bind(projection)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(paused.unwrap_or(false))
    }

    async fn finish(
        &self,
        id: Uuid,
        status: ControlStatus,
        owner: Uuid,
        outcome: Option<&str>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql.finish.get())
            .bind(id)
            .bind(status.as_str())
            .bind(owner)
            .bind(outcome)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        self.notifications.committed(&self.pool);
        Ok(done.rows_affected() > 0)
    }

    async fn cancel(&self, id: Uuid) -> Result<bool, StoreError> {
        let done = sqlx::query(self.sql.cancel.get())
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        self.notifications.committed(&self.pool);
        Ok(done.rows_affected() > 0)
    }

    async fn history(
        &self,
        projection: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ControlRequest>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.fetch_all(
            sqlx::query(self.sql.history.get())
                .bind(projection)
                .bind(limit),
        )
        .await
    }

    fn watch(&self) -> Option<watch::Receiver<u64>> {
        Some(self.notifications.subscribe(&self.pool))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_columns_are_those_every_statement_returns() {
        for statement in [super::REQUEST, super::GET, super::PENDING, super::HISTORY] {
            let flat: String = statement.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(flat.contains(super::COLUMNS), "{statement}");
        }
    }
}
