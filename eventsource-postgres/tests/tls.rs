//! TLS to a real server that accepts nothing else: `scripts/with-tls-postgres`
//! (run by `./scripts/test`) starts it with a throwaway CA and passes it in
//! `EVENTSOURCE_TLS_*`. The TLS backend is whichever the build enabled:
//! rustls by default, native-tls when `./scripts/test` runs this file again
//! with `--no-default-features --features tls-native-tls`.

mod common;

use std::time::Duration;

use eventsource::StoreError;
use eventsource_postgres::{PgEventStore, PgStoreOptions, TlsError};
use sqlx::postgres::PgPoolOptions;

/// Connections of the pool the conformance suite shares.
const POOL_SIZE: u32 = 6;

/// Refusals come at once; this only bounds a hang.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => value,
        _ => panic!(
            "{name} is not set: run ./scripts/test, which starts a PostgreSQL server with TLS \
             through scripts/with-tls-postgres (it needs openssl and the PostgreSQL server \
             binaries, e.g. `apt-get install openssl postgresql`)"
        ),
    }
}

/// The server's URL for `host`, with full verification against the CA in
/// the environment variable `ca`.
fn verify_full(host: Option<&str>, ca: &str) -> String {
    let mut url = env("EVENTSOURCE_TLS_URL");
    if let Some(host) = host {
        url = url.replacen("@localhost:", &format!("@{host}:"), 1);
    }
    format!("{url}?sslmode=verify-full&sslrootcert={}", env(ca))
}

/// The error with which connecting to `url` fails.
async fn refusal(url: &str) -> StoreError {
    match tokio::time::timeout(CONNECT_LIMIT, PgEventStore::connect(url)).await {
        Err(_) => panic!("connecting to {url} neither failed nor succeeded in {CONNECT_LIMIT:?}"),
        Ok(Ok(_)) => panic!("{url} was accepted"),
        Ok(Err(err)) => {
            println!("refused: {err}");
            err
        }
    }
}

/// Checks that `err` is a connection error saying it is a TLS failure, and
/// returns what the TLS layer said.
fn tls_reason(err: &StoreError) -> String {
    let text = err.to_string();
    assert!(
        matches!(err, StoreError::Connection(_)),
        "not a connection error: {err:?}"
    );
    assert!(
        text.starts_with("connection to the store failed: TLS handshake failed: "),
        "{text}"
    );
    let tls = TlsError::find(err).unwrap_or_else(|| panic!("no TlsError in {err:?}"));
    tls.reason().to_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_right_ca_passes_the_conformance_suite_over_tls() {
    let url = verify_full(None, "EVENTSOURCE_TLS_CA");
    let store = tokio::time::timeout(
        CONNECT_LIMIT,
        PgEventStore::connect_with(&url, PgStoreOptions::default()),
    )
    .await
    .expect("connecting in time")
    .unwrap_or_else(|e| panic!("verify-full with the server's CA was refused: {e}"));
    let (ssl, version): (bool, Option<String>) =
        sqlx::query_as("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(ssl, "the connection is not encrypted");
    println!("connected with {}", version.unwrap_or_default());
    store.pool().close().await;

    let pool = PgPoolOptions::new()
        .max_connections(POOL_SIZE)
        .connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect a pool to {url}: {e}"));
    let report = common::conformance_on(&pool, |o| o).await;
    pool.close().await;
    report.assert_passed();
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused_as_a_tls_failure() {
    let err = refusal(&verify_full(None, "EVENTSOURCE_TLS_OTHER_CA")).await;
    let reason = tls_reason(&err);
    // The other CA has the same name as the server's issuer, so it is the
    // signature that fails: rustls says "invalid peer certificate:
    // BadSignature", OpenSSL "certificate verify failed (certificate
    // signature failure)". Not a name mismatch.
    assert!(reason.contains("certificate"), "{err}");
    assert!(
        !reason.contains("not valid for name") && !reason.contains("mismatch"),
        "{err}"
    );
}

#[tokio::test]
async fn a_host_name_the_certificate_does_not_name_is_refused_as_a_tls_failure() {
    let host = env("EVENTSOURCE_TLS_OTHER_HOST");
    let err = refusal(&verify_full(Some(&host), "EVENTSOURCE_TLS_CA")).await;
    let reason = tls_reason(&err);
    // rustls: "... certificate not valid for name \"127.0.0.2\" ..."; OpenSSL:
    // "... certificate verify failed ... (IP address mismatch)".
    assert!(
        reason.contains("not valid for name") || reason.contains("mismatch"),
        "{err}"
    );
}
