//! [`PgReadModel`]: the tables of a projection's read model in the event
//! store's schema, named without building SQL by hand, and migrated step by
//! step with the projection's version.
//!
//! A statement is a `'static` template: `{schema}` stands for the store's
//! schema (validated and quoted, see [`Identifier`]) and `{version}` for the
//! projection's version, so versioned tables can be named after it.
//! Because templates are `'static`, nothing a user or a database sends at
//! run time can be spliced into SQL; values travel as bind parameters.
//!
//! `{tenant}` stands for the session's tenant (an SQL expression): in a
//! conjoined schema (`PgConjoined`), a read model's tables can carry a
//! `tenant_id text NOT NULL DEFAULT {tenant}` column and a forced
//! row-level security policy `USING (tenant_id = {tenant}) WITH CHECK
//! (tenant_id = {tenant})`, and then each tenant's store (whose pool the
//! read model uses) reads and writes only its tenant's rows.

use std::sync::Arc;

use eventsource::StoreError;
use eventsource::projection::Projection;
use sqlx::{AssertSqlSafe, PgPool};

use crate::error::store_error;
use crate::schema::Identifier;
use crate::sql::Sql;
use crate::store::PgEventStore;

/// Waits for the other processes migrating the same read model.
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

/// The versions read model `$1` applied.
const APPLIED: &str = "\
SELECT version FROM {schema}.read_model_migrations WHERE read_model = $1 ORDER BY version";

/// Records that read model `$1` applied the step of version `$2`.
const RECORD: &str = "\
INSERT INTO {schema}.read_model_migrations (read_model, version) VALUES ($1, $2)";

/// One step of a read model's migration: the SQL that brings its tables to
/// what `version` of the projection writes.
///
/// The SQL is a `'static` template (several statements are allowed), with
/// `{schema}` for the store's schema and `{version}` for the step's own
/// version. Steps already released never change: add a step with the next
/// version instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadModelStep {
    /// The projection version that introduced the step (1 for the first).
    pub version: u32,
    /// The step's SQL template.
    pub sql: &'static str,
}

impl ReadModelStep {
    /// The step of projection version `version`.
    pub const fn new(version: u32, sql: &'static str) -> Self {
        Self { version, sql }
    }
}

/// A projection's read model in a PostgreSQL event store's schema.
///
/// ```no_run
/// # async fn run(store: eventsource_postgres::PgEventStore) -> Result<(), eventsource::StoreError> {
/// use eventsource_postgres::{PgReadModel, ReadModelStep};
///
/// let model = PgReadModel::new(&store, "shop.summary", 1)?;
/// model
///     .migrate(&[ReadModelStep::new(
///         1,
///         "CREATE TABLE {schema}.summaries (id text PRIMARY KEY, total bigint NOT NULL)",
///     )])
///     .await?;
/// let total: Option<i64> =
///     sqlx::query_scalar(model.sql("SELECT total FROM {schema}.summaries WHERE id = $1"))
///         .bind("order-1")
///         .fetch_optional(store.pool())
///         .await
///         .map_err(eventsource_postgres::store_error)?;
/// # let _ = total;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PgReadModel {
    pool: PgPool,
    schema: Identifier,
    name: Arc<str>,
    version: u32,
}

impl PgReadModel {
    /// The read model of projection `P` (its name and version) in `store`'s schema.
    pub fn of<P: Projection>(store: &PgEventStore) -> Self {
        Self {
            pool: store.pool().clone(),
            schema: store.options().schema().clone(),
            name: P::NAME.into(),
            version: P::VERSION,
        }
    }

    /// The read model `name` at projection version `version` (at least 1).
    pub fn new(store: &PgEventStore, name: &str, version: u32) -> Result<Self, StoreError> {
        if name.trim().is_empty() {
            return Err(StoreError::invalid("a read model needs a non-empty name"));
        }
        if version == 0 {
            return Err(StoreError::invalid(format!(
                "read model `{name}`: versions start at 1, got 0"
            )));
        }
        Ok(Self {
            pool: store.pool().clone(),
            schema: store.options().schema().clone(),
            name: name.into(),
            version,
        })
    }

    /// The read model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The projection version whose tables this names.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// `template` as a statement for sqlx: `{schema}` becomes the quoted
    /// schema, `{version}` the version and `{tenant}` the session's tenant.
    pub fn sql(&self, template: &'static str) -> AssertSqlSafe<Arc<str>> {
        Sql::read_model(template, &self.schema, self.version).get()
    }

    /// Applies, in one transaction and in order, the steps up to this
    /// version that the schema has not applied yet; returns their versions.
    ///
    /// Safe to run from several processes at once: they queue on a lock of
    /// the read model, so each step runs once. The steps must have
    /// increasing versions, none above this read model's version (a step
    /// for a version the code does not run is a mistake, refused with
    /// [`StoreError::Invalid`] before anything runs).
    pub async fn migrate(&self, steps: &[ReadModelStep]) -> Result<Vec<u32>, StoreError> {
        self.check_steps(steps)?;
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(LOCK)
            .bind(format!(
                "eventsource.read_model:{}:{}",
                self.schema, self.name
            ))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let applied: Vec<i32> = sqlx::query_scalar(Sql::new(APPLIED, &self.schema).get())
            .bind(&*self.name)
            .fetch_all(&mut *tx)
            .await
            .map_err(store_error)?;
        let mut done = Vec::new();
        for step in steps {
            let version = i32::try_from(step.version)
                .map_err(|_| StoreError::invalid("a read model step version above i32::MAX"))?;
            if applied.contains(&version) {
                continue;
            }
            // A step names the tables of its own version: the step of
            // version 1 keeps creating `_v1` tables when the code runs 2.
            sqlx::raw_sql(Sql::read_model(step.sql, &self.schema, step.version).get())
                .execute(&mut *tx)
                .await
                .map_err(|e| self.step_failed(step, e))?;
            sqlx::query(Sql::new(RECORD, &self.schema).get())
                .bind(&*self.name)
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            done.push(step.version);
        }
        tx.commit().await.map_err(store_error)?;
        Ok(done)
    }

    fn check_steps(&self, steps: &[ReadModelStep]) -> Result<(), StoreError> {
        let name = &self.name;
        for pair in steps.windows(2) {
            if pair[0].version >= pair[1].version {
                return Err(StoreError::invalid(format!(
                    "read model `{name}`: steps must have increasing versions, \
                     but {} comes after {}",
                    pair[1].version, pair[0].version
                )));
            }
        }
        if let Some(step) = steps.iter().find(|s| s.version == 0) {
            return Err(StoreError::invalid(format!(
                "read model `{name}`: step versions start at 1, got {}",
                step.version
            )));
        }
        if let Some(step) = steps.iter().find(|s| s.version > self.version) {
            return Err(StoreError::invalid(format!(
                "read model `{name}`: a step for version {} but the projection runs version {}; \
                 raise the projection's version with the step",
                step.version, self.version
            )));
        }
        Ok(())
    }

    fn step_failed(&self, step: &ReadModelStep, err: sqlx::Error) -> StoreError {
        match store_error(err) {
            StoreError::Backend(source) => StoreError::Backend(
                format!(
                    "read model `{}`: the step of version {} failed: {source}",
                    self.name, step.version
                )
                .into(),
            ),
            other => other,
        }
    }
}

#[cfg(test)]
pub(crate) fn statements(schema: &Identifier) -> Vec<(&'static str, Sql)> {
    vec![
        ("read_model.applied", Sql::new(APPLIED, schema)),
        ("read_model.record", Sql::new(RECORD, schema)),
    ]
}
