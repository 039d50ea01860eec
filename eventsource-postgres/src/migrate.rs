//! The schema migrations shipped with the crate, and the runner.
//!
//! Each migration is a SQL file under `migrations/`, embedded at build time,
//! with `{schema}` standing for the quoted schema name. Applied versions are
//! recorded in `<schema>.schema_migrations`. Later features add a file and a
//! line to [`MIGRATIONS`]; files already released never change.

use eventsource::StoreError;
use sqlx::{AssertSqlSafe, PgPool, Row};

use crate::error::store_error;
use crate::schema::Identifier;

/// One embedded migration.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Applied in increasing order; recorded once applied.
    pub version: i32,
    /// A short name, recorded with the version.
    pub name: &'static str,
    /// The SQL, with `{schema}` for the quoted schema name.
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "events",
        sql: include_str!("../migrations/0001_events.sql"),
    },
    Migration {
        version: 2,
        name: "snapshots",
        sql: include_str!("../migrations/0002_snapshots.sql"),
    },
    Migration {
        version: 3,
        name: "checkpoints",
        sql: include_str!("../migrations/0003_checkpoints.sql"),
    },
    Migration {
        version: 4,
        name: "processing",
        sql: include_str!("../migrations/0004_processing.sql"),
    },
    Migration {
        version: 5,
        name: "dead letter records",
        sql: include_str!("../migrations/0005_dead_letter_records.sql"),
    },
    Migration {
        version: 6,
        name: "projection versions",
        sql: include_str!("../migrations/0006_projection_versions.sql"),
    },
    Migration {
        version: 7,
        name: "operations",
        sql: include_str!("../migrations/0007_operations.sql"),
    },
    Migration {
        version: 8,
        name: "lifecycle",
        sql: include_str!("../migrations/0008_lifecycle.sql"),
    },
    Migration {
        version: 9,
        name: "read models and saga deadlines",
        sql: include_str!("../migrations/0009_read_models_and_deadlines.sql"),
    },
    Migration {
        version: 10,
        name: "partitions",
        sql: include_str!("../migrations/0010_partitions.sql"),
    },
    Migration {
        version: 11,
        name: "archive",
        sql: include_str!("../migrations/0011_archive.sql"),
    },
    Migration {
        version: 12,
        name: "conjoined tenants",
        sql: include_str!("../migrations/0012_conjoined_tenants.sql"),
    },
    Migration {
        version: 13,
        name: "json payloads",
        sql: include_str!("../migrations/0013_json_payloads.sql"),
    },
];

/// Creates the schema if needed and applies the missing migrations, all in
/// one transaction, so a failure leaves the schema as it was.
///
/// Concurrent runners (several processes starting at once) queue on a
/// transaction-scoped advisory lock keyed by the schema name, so each
/// migration is applied exactly once. Returns the versions applied.
pub(crate) async fn run(pool: &PgPool, schema: &Identifier) -> Result<Vec<i32>, StoreError> {
    let mut tx = pool.begin().await.map_err(store_error)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("eventsource.migrate:{schema}"))
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
    let quoted = schema.quoted();
    // Checked first so a role without CREATE on the database can still run
    // an up-to-date store in a schema someone else created.
    let exists = sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(schema.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?
        .try_get::<bool, _>(0)
        .map_err(store_error)?;
    if !exists {
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA {quoted}")))
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
    }
    sqlx::raw_sql(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {quoted}.schema_migrations ( \
             version integer PRIMARY KEY, \
             name text NOT NULL, \
             applied_at timestamptz NOT NULL DEFAULT now())"
    )))
    .execute(&mut *tx)
    .await
    .map_err(store_error)?;
    let applied: Vec<i32> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT version FROM {quoted}.schema_migrations"
    )))
    .fetch_all(&mut *tx)
    .await
    .map_err(store_error)?;
    let mut done = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        let sql = migration.sql.replace("{schema}", &quoted);
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .map_err(|e| migration_failed(migration, e))?;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO {quoted}.schema_migrations (version, name) VALUES ($1, $2)"
        )))
        .bind(migration.version)
        .bind(migration.name)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        done.push(migration.version);
    }
    tx.commit().await.map_err(store_error)?;
    Ok(done)
}

/// When each migration was applied (none when the schema or its
/// `schema_migrations` table does not exist yet).
pub(crate) async fn applied(
    pool: &PgPool,
    schema: &Identifier,
) -> Result<Vec<(i32, chrono::DateTime<chrono::Utc>)>, StoreError> {
    let table = format!("{}.schema_migrations", schema.quoted());
    let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
        .bind(&table)
        .fetch_one(pool)
        .await
        .map_err(store_error)?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT version, applied_at FROM {table} ORDER BY version"
    )))
    .fetch_all(pool)
    .await
    .map_err(store_error)?;
    rows.iter()
        .map(|row| {
            Ok((
                row.try_get(0).map_err(store_error)?,
                row.try_get(1).map_err(store_error)?,
            ))
        })
        .collect()
}

/// The SQL of the migrations not in `applied`, as [`run`] would run it
/// (after creating the schema and the `schema_migrations` table).
pub(crate) fn pending_sql(schema: &Identifier, applied: &[i32]) -> String {
    let quoted = schema.quoted();
    MIGRATIONS
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| {
            format!(
                "-- migration {} ({})\n{}\n",
                m.version,
                m.name,
                m.sql.replace("{schema}", &quoted).trim_end()
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn migration_failed(migration: &Migration, err: sqlx::Error) -> StoreError {
    match store_error(err) {
        StoreError::Backend(source) => StoreError::Backend(
            format!(
                "migration {} ({}) failed: {source}",
                migration.version, migration.name
            )
            .into(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_every_file_names_the_schema() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        for m in MIGRATIONS {
            assert!(m.sql.contains("{schema}."), "{}", m.name);
        }
    }
}
