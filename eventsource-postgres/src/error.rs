//! From sqlx errors to the runtime's typed [`StoreError`].

use std::fmt;

use eventsource::StoreError;
use sqlx::error::DatabaseError;

/// Maps a database failure: lost connections become
/// [`StoreError::Connection`] (worth retrying), the rest [`StoreError::Backend`].
///
/// Public for read models of an application's own in PostgreSQL, so their
/// failures read the same as the store's: an HTTP layer answers 503 for a
/// connection that failed and 500 for the rest. A connection refused by TLS
/// is a `Connection` error holding a [`TlsError`].
pub fn store_error(err: sqlx::Error) -> StoreError {
    if let Some(reason) = tls_failure(&err) {
        StoreError::Connection(Box::new(TlsError {
            reason,
            source: err,
        }))
    } else if is_connection_error(&err) {
        StoreError::Connection(Box::new(err))
    } else {
        StoreError::Backend(Box::new(err))
    }
}

/// The connection to the server could not be secured with TLS: the server's
/// certificate is not signed by a trusted CA (`sslrootcert`), is not valid
/// for the host name connected to (`sslmode=verify-full`), the server does
/// not offer TLS, or this build has no TLS backend.
///
/// It arrives as the source of a [`StoreError::Connection`], whose message
/// then reads `connection to the store failed: TLS handshake failed: ...`;
/// [`TlsError::find`] picks it out:
///
/// ```no_run
/// use eventsource_postgres::{PgEventStore, TlsError};
///
/// # async fn demo() {
/// let url = "postgres://app@db.example.com/app?sslmode=verify-full&sslrootcert=/etc/ssl/db-ca.pem";
/// match PgEventStore::connect(url).await {
///     Ok(_store) => {}
///     Err(err) if TlsError::find(&err).is_some() => eprintln!("check the CA and host name: {err}"),
///     Err(err) => eprintln!("{err}"),
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct TlsError {
    reason: String,
    source: sqlx::Error,
}

impl TlsError {
    /// The TLS failure behind `err`, if that is why the store failed.
    pub fn find(err: &StoreError) -> Option<&TlsError> {
        match err {
            StoreError::Connection(source) => source.downcast_ref(),
            _ => None,
        }
    }

    /// What the TLS layer reported, such as `invalid peer certificate: UnknownIssuer`.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TLS handshake failed: {}", self.reason)?;
        if !cfg!(any(feature = "tls-rustls", feature = "tls-native-tls")) {
            f.write_str(
                " (this build of eventsource-cqrs-postgres has no TLS backend: enable its \
                 feature `tls-rustls` or `tls-native-tls`)",
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// What went wrong, if `err` is a failure to set up TLS. sqlx reports
/// native-tls failures and its own refusals (the server offers no TLS, no
/// backend is built in) as `Tls`, but a certificate that rustls rejects
/// during the handshake as an I/O error wrapping rustls' own error.
fn tls_failure(err: &sqlx::Error) -> Option<String> {
    match err {
        sqlx::Error::Tls(inner) => Some(inner.to_string()),
        #[cfg(feature = "tls-rustls")]
        sqlx::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .map(ToString::to_string),
        _ => None,
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
/// exception), the 57P0x shutdown and termination codes, too many
/// connections, and a session the server ended for staying idle in its
/// transaction too long (a projection unit of work past its time limit).
fn is_connection_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "25P03")
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
    StoreError::invalid(format!(
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
        for code in ["08006", "08003", "57P01", "53300", "25P03"] {
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

    #[test]
    fn tls_errors_are_recognisable_connection_errors() {
        let err = store_error(sqlx::Error::Tls("server does not support TLS".into()));
        let tls = TlsError::find(&err).expect("a TLS error");
        assert_eq!(tls.reason(), "server does not support TLS");
        assert!(matches!(err, StoreError::Connection(_)));
        let text = err.to_string();
        assert!(
            text.starts_with("connection to the store failed: TLS handshake failed: server does"),
            "{text}"
        );
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(TlsError::find(&store_error(io)).is_none());
    }

    /// rustls rejects a certificate inside the handshake's I/O.
    #[cfg(feature = "tls-rustls")]
    #[test]
    fn rustls_errors_inside_io_errors_are_tls_errors() {
        let rejected = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rejected);
        let err = store_error(sqlx::Error::Io(io));
        let tls = TlsError::find(&err).expect("a TLS error");
        assert_eq!(tls.reason(), "invalid peer certificate: UnknownIssuer");
    }
}
