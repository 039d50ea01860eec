//! From sqlx errors to the runtime's typed [`StoreError`].

use eventsource::StoreError;
use sqlx::error::DatabaseError;

/// Maps a database failure: lost connections become
/// [`StoreError::Connection`] (worth retrying), the rest [`StoreError::Backend`].
///
/// Public for read models of an application's own in PostgreSQL, so their
/// failures read the same as the store's: an HTTP layer answers 503 for a
/// connection that failed and 500 for the rest.
pub fn store_error(err: sqlx::Error) -> StoreError {
    if is_connection_error(&err) {
        StoreError::Connection(Box::new(err))
    } else {
        StoreError::Backend(Box::new(err))
    }
}

/// Whether `err` means the connection (not the request) failed.
pub(crate) fn is_connection_error(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_connection_code(&code)),
        _ => false,
    }
}

/// SQLSTATEs after which a new connection may succeed: class 08 (connection
/// exception), the 57P0x shutdown and termination codes, too many connections.
fn is_connection_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
}

/// The unique constraint a database error violated, if that is what it is.
pub(crate) fn unique_violation(err: &sqlx::Error) -> Option<&dyn DatabaseError> {
    match err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("23505") => Some(&**db),
        _ => None,
    }
}

/// Whether the transaction was aborted for a deadlock or a serialization failure.
pub(crate) fn lost_race(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40P01" | "40001"))
    )
}

/// Whether the database rejected a value as malformed text for its type
/// (for example a payload that is not JSON, or `\u0000` in JSONB).
pub(crate) fn is_bad_value(err: &sqlx::Error) -> bool {
    matches!(
        err,
        sqlx::Error::Database(db)
            if matches!(db.code().as_deref(), Some("22P02" | "22P05" | "22025" | "22021"))
    )
}

/// A value that does not fit the database column (`u64` above `i64::MAX`).
pub(crate) fn out_of_range(what: &str, value: u64) -> StoreError {
    StoreError::Invalid(format!(
        "{what} {value} is larger than PostgreSQL's bigint allows"
    ))
}

/// `value` as a bigint parameter.
pub(crate) fn to_i64(what: &str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| out_of_range(what, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_codes() {
        for code in ["08006", "08003", "57P01", "53300"] {
            assert!(is_connection_code(code), "{code}");
        }
        for code in ["23505", "42P01", "40001"] {
            assert!(!is_connection_code(code), "{code}");
        }
    }

    #[test]
    fn io_errors_are_connection_errors() {
        let err = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(matches!(store_error(err), StoreError::Connection(_)));
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
    }
}
