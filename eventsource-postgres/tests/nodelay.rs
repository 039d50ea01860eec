//! `TCP_NODELAY` reaches the sockets of the store's connections. Checked
//! here by reading the option back from the socket itself, found apart from
//! the library's own search.

#![allow(unsafe_code)]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::os::fd::{BorrowedFd, RawFd};

use eventsource_postgres::PgEventStore;
use nix::sys::socket::{SockaddrStorage, getpeername, getsockname, getsockopt, sockopt};
use sqlx::{Connection, PgConnection};

/// The connection's two ends as the server reports them (ours first).
async fn ends(conn: &mut PgConnection) -> (SocketAddr, SocketAddr) {
    let (client, client_port, server, server_port): (String, i32, String, i32) = sqlx::query_as(
        "SELECT host(inet_client_addr()), inet_client_port(), \
                host(inet_server_addr()), inet_server_port()",
    )
    .fetch_one(&mut *conn)
    .await
    .expect("the server reports the connection's addresses (is DATABASE_URL over TCP?)");
    let at = |host: String, port: i32| {
        let ip: IpAddr = host.parse().expect("an IP address");
        SocketAddr::new(ip.to_canonical(), u16::try_from(port).expect("a port"))
    };
    (at(client, client_port), at(server, server_port))
}

/// `TCP_NODELAY` on this process's socket with these ends, read with
/// `getsockopt`.
fn nodelay(local: SocketAddr, remote: SocketAddr) -> bool {
    let end = |addr: SockaddrStorage| -> Option<SocketAddr> {
        if let Some(v4) = addr.as_sockaddr_in() {
            return Some(SocketAddr::new(IpAddr::V4(v4.ip()), v4.port()));
        }
        let v6 = addr.as_sockaddr_in6()?;
        Some(SocketAddr::new(
            IpAddr::V6(v6.ip()).to_canonical(),
            v6.port(),
        ))
    };
    let fds: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd lists this process's descriptors")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let fd = fds
        .into_iter()
        .find(|&fd| {
            let ours = getsockname::<SockaddrStorage>(fd).ok().and_then(end);
            let theirs = getpeername::<SockaddrStorage>(fd).ok().and_then(end);
            ours == Some(local) && theirs == Some(remote)
        })
        .unwrap_or_else(|| panic!("no socket from {local} to {remote} in this process"));
    // SAFETY: the connection owning `fd` is alive in the caller for the
    // whole call.
    let socket = unsafe { BorrowedFd::borrow_raw(fd) };
    getsockopt(&socket, sockopt::TcpNoDelay).expect("getsockopt(TCP_NODELAY)")
}

#[tokio::test]
async fn a_plain_sqlx_connection_gets_nodelay_from_tcp_nodelay() {
    let mut conn = PgConnection::connect(&common::database_url())
        .await
        .expect("connect to DATABASE_URL");
    let (local, remote) = ends(&mut conn).await;
    assert!(
        !nodelay(local, remote),
        "sqlx leaves Nagle on: if it no longer does, `tcp_nodelay` may go"
    );
    assert!(eventsource_postgres::tcp_nodelay(&mut conn).await.unwrap());
    assert!(nodelay(local, remote));
    // Asking again finds the same socket and changes nothing.
    assert!(eventsource_postgres::tcp_nodelay(&mut conn).await.unwrap());
    assert!(nodelay(local, remote));
    conn.close().await.unwrap();
}

#[tokio::test]
async fn every_connection_of_the_stores_own_pool_has_nodelay() {
    let store = PgEventStore::connect(&common::database_url())
        .await
        .expect("connect to DATABASE_URL");
    // Three at once, so the pool opens three.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(store.pool().acquire().await.unwrap());
    }
    for conn in &mut held {
        let (local, remote) = ends(conn).await;
        assert!(nodelay(local, remote), "{local} → {remote}");
    }
}

#[tokio::test]
async fn ends_that_match_no_socket_change_nothing() {
    let nowhere: SocketAddr = "192.0.2.1:9".parse().unwrap();
    let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
    assert!(!eventsource_postgres::tcp_nodelay_between(local, nowhere));
}
