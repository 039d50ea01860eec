//! A server that fails to set up the relay's stream (an error of its own,
//! status 500) leaves the relay retrying, not stopped; once the server can
//! store the stream, the relay publishes everything.
//!
//! The fault is real: a NATS server of the test's own, whose JetStream
//! directory for the account holds a plain file where the server wants
//! its directory, so creating any stream fails until the file goes.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use eventsource::memory::{InMemoryProjectionBackend, InMemoryStore};
use eventsource::prelude::*;
use eventsource::store::EventStore;
use eventsource_nats::relay::{Relay, RelayOptions, RelayState};
use eventsource_nats::stream::StreamSettings;
use eventsource_nats::subject::SubjectScheme;
use serde::{Deserialize, Serialize};

#[derive(Event, Serialize, Deserialize, Debug, Clone)]
#[event(name = "setup.Happened")]
struct Happened {
    n: i64,
}

/// A `nats-server -js` on a free loopback port with its store in `dir`,
/// killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run nats-server ({e}): install it (Debian: apt-get install nats-server) \
                 or run ./scripts/test, which installs it when run as root"
            )
        });
    Server {
        child,
        url: format!("nats://127.0.0.1:{port}"),
    }
}

/// Connects to `server`, waiting up to 10 s for it to listen.
async fn connect(server: &Server) -> async_nats::Client {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match eventsource_nats::connect(&server.url, Duration::from_secs(1)).await {
            Ok(client) => return client,
            Err(error) if Instant::now() > deadline => {
                panic!(
                    "the test's nats-server did not answer at {}: {error}",
                    server.url
                )
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Where the server keeps the global account's streams.
fn account_dir(store: &Path) -> PathBuf {
    store.join("jetstream").join("$G")
}

#[tokio::test]
async fn a_server_error_while_setting_up_the_stream_is_retried_until_it_passes() {
    let store_dir = std::env::temp_dir().join(common::unique("es_nats_setup"));
    std::fs::create_dir_all(&store_dir).expect("a temporary directory");
    let server = start_server(&store_dir);
    let client = connect(&server).await;

    // The fault: a file where the account's directory goes.
    let account = account_dir(&store_dir);
    if account.is_dir() {
        std::fs::remove_dir_all(&account).expect("the account directory goes");
    }
    std::fs::create_dir_all(store_dir.join("jetstream")).expect("the JetStream directory");
    std::fs::write(&account, b"in the way").expect("the file in the way");

    let store = InMemoryStore::new();
    for n in 0..5 {
        let event = NewEvent::from_event(&Happened { n }, Metadata::new()).unwrap();
        store
            .append("setup-1", "setup.Thing", ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    let name = common::unique("NATS_SETUP");
    let settings = StreamSettings::new(&name, vec![format!("{name}.>")]).unwrap();
    let options = RelayOptions::new("setup", settings)
        .unwrap()
        .with_subjects(SubjectScheme::prefixed(&name).unwrap())
        .with_retry_delay(Duration::from_millis(50));
    let relay = Relay::new(
        store.clone(),
        InMemoryProjectionBackend::new(),
        client.clone(),
        options,
    )
    .spawn();

    // Retrying with the server's error, and still running.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let status = relay.status();
        if status.state == RelayState::Retrying || Instant::now() > deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.state, RelayState::Retrying, "{status:?}");
    let reason = status.last_error.clone().unwrap_or_default();
    assert!(reason.contains("create or look up the stream"), "{reason}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_ne!(
        relay.status().state,
        RelayState::Stopped,
        "{:?}",
        relay.status()
    );

    // The fault mended: everything is published, once each.
    std::fs::remove_file(&account).expect("the file goes");
    let head = store.head_position().await.unwrap();
    relay
        .wait_until(head, Duration::from_secs(30))
        .await
        .expect("published once the server can store the stream");
    relay.stop().await.expect("stops cleanly");
    let stored = common::read_stream(&client, &name).await;
    assert_eq!(stored.len(), 5);

    drop(client);
    drop(server);
    let _ = std::fs::remove_dir_all(&store_dir);
}
