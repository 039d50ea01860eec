//! The statements of the projection backend, dead-letter store and saga
//! store, built once per store for its schema.
//!
//! As in the rest of the crate, the only text spliced in is the validated,
//! quoted schema name; every value is a bind parameter.

use std::sync::Arc;

use sqlx::AssertSqlSafe;

use crate::schema::Identifier;

/// One statement, shared.
#[derive(Clone, Debug)]
pub(crate) struct Statement(Arc<str>);

impl Statement {
    /// The text as sqlx wants it. Safe: fixed fragments and a validated identifier.
    pub(crate) fn get(&self) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(self.0.clone())
    }
}

#[derive(Debug)]
pub(crate) struct ProcessingSql {
    pub(crate) acquire_lease: Statement,
    pub(crate) release_lease: Statement,
    pub(crate) fence_lease: Statement,
    pub(crate) register_version: Statement,
    pub(crate) forget_version: Statement,
    pub(crate) active_version: Statement,
    pub(crate) activate_version: Statement,
    pub(crate) park: Statement,
    pub(crate) list_parked: Statement,
    pub(crate) count_parked: Statement,
    pub(crate) remove_parked: Statement,
    pub(crate) clear_parked: Statement,
    pub(crate) load_saga: Statement,
    pub(crate) save_saga: Statement,
    pub(crate) list_sagas: Statement,
}

impl ProcessingSql {
    pub(crate) fn new(schema: &Identifier) -> Self {
        let s = schema.quoted();
        let statement = |text: String| Statement(text.into());
        Self {
            // Taken when free, expired, or already ours (a renewal).
            acquire_lease: statement(format!(
                "INSERT INTO {s}.projection_leases AS l (name, owner, expires_at) \
                 VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond') \
                 ON CONFLICT (name) DO UPDATE \
                 SET owner = EXCLUDED.owner, expires_at = EXCLUDED.expires_at \
                 WHERE l.owner = EXCLUDED.owner OR l.expires_at < clock_timestamp() \
                 RETURNING owner"
            )),
            release_lease: statement(format!(
                "DELETE FROM {s}.projection_leases WHERE name = $1 AND owner = $2"
            )),
            // Locks the lease row until the commit, so no takeover can slip
            // in between this check and the commit.
            fence_lease: statement(format!(
                "SELECT 1 FROM {s}.projection_leases WHERE name = $1 AND owner = $2 FOR UPDATE"
            )),
            // The first program to run a version records its events; every
            // later one reads them back to compare.
            register_version: statement(format!(
                "WITH recorded AS (INSERT INTO {s}.projection_versions (name, version, events) \
                 VALUES ($1, $2, $3) ON CONFLICT (name, version) DO NOTHING RETURNING events) \
                 SELECT coalesce((SELECT events FROM recorded), \
                     (SELECT events FROM {s}.projection_versions WHERE name = $1 AND version = $2)), \
                 (SELECT max(version) FROM {s}.projection_versions \
                     WHERE name = $1 AND activated_at IS NOT NULL)"
            )),
            forget_version: statement(format!(
                "DELETE FROM {s}.projection_versions WHERE name = $1 AND version = $2"
            )),
            active_version: statement(format!(
                "SELECT max(version) FROM {s}.projection_versions \
                 WHERE name = $1 AND activated_at IS NOT NULL"
            )),
            activate_version: statement(format!(
                "WITH activated AS (UPDATE {s}.projection_versions \
                 SET activated_at = coalesce(activated_at, now()) \
                 WHERE name = $1 AND version = $2 RETURNING version) \
                 SELECT greatest((SELECT version FROM activated), \
                     (SELECT max(version) FROM {s}.projection_versions \
                         WHERE name = $1 AND activated_at IS NOT NULL))"
            )),
            park: statement(format!(
                "INSERT INTO {s}.dead_letters AS d (projection, global_position, event_id, \
                 stream_id, stream_version, event_name, error, attempts, parked_at, \
                 schema_version, payload, metadata, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (projection, global_position) DO UPDATE \
                 SET error = EXCLUDED.error, attempts = EXCLUDED.attempts, \
                     parked_at = EXCLUDED.parked_at"
            )),
            list_parked: statement(format!(
                "SELECT projection, global_position, event_id, stream_id, stream_version, \
                 event_name, error, attempts, parked_at, schema_version, payload, metadata, \
                 recorded_at FROM {s}.dead_letters \
                 WHERE projection = $1 ORDER BY global_position"
            )),
            count_parked: statement(format!(
                "SELECT count(*) FROM {s}.dead_letters WHERE projection = $1"
            )),
            remove_parked: statement(format!(
                "DELETE FROM {s}.dead_letters WHERE projection = $1 AND global_position = $2"
            )),
            clear_parked: statement(format!(
                "DELETE FROM {s}.dead_letters WHERE projection = $1"
            )),
            load_saga: statement(format!(
                "SELECT state::text, completed, updated_at FROM {s}.saga_instances \
                 WHERE saga = $1 AND correlation_id = $2"
            )),
            save_saga: statement(format!(
                "INSERT INTO {s}.saga_instances AS i (saga, correlation_id, state, completed, \
                 updated_at) VALUES ($1, $2, $3::jsonb, $4, $5) \
                 ON CONFLICT (saga, correlation_id) DO UPDATE \
                 SET state = EXCLUDED.state, completed = EXCLUDED.completed, \
                     updated_at = EXCLUDED.updated_at"
            )),
            list_sagas: statement(format!(
                "SELECT correlation_id, state::text, completed, updated_at \
                 FROM {s}.saga_instances WHERE saga = $1 ORDER BY updated_at, correlation_id"
            )),
        }
    }
}
