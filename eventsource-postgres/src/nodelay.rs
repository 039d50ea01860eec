//! `TCP_NODELAY` on connections sqlx opened.
//!
//! sqlx connects with Nagle's algorithm on and has no option to turn it
//! off. A statement that leaves the client in more than one segment (a
//! batch of events, a COPY and its separate CopyDone) then holds its last
//! segment until the server acknowledges the previous one, and the server
//! delays that acknowledgement: each such statement waits up to ~40 ms on
//! Linux. The socket is out of reach through sqlx's API, so this finds it
//! among the process's descriptors by the connection's two addresses,
//! which the server reports.

use sqlx::PgConnection;
use std::net::{IpAddr, SocketAddr};

/// Turns on `TCP_NODELAY` for `conn`'s socket. Returns whether it did:
/// `false` over a Unix socket, when the server sees another peer (a
/// pooler or a NAT in between), or on a platform where the process's
/// descriptors cannot be listed.
///
/// [`PgEventStore::connect_with`](crate::PgEventStore::connect_with) and
/// the other constructors that build their own pool run this on each new
/// connection. A pool built by hand gets it from its `after_connect`:
///
/// ```no_run
/// use sqlx::postgres::PgPoolOptions;
///
/// # async fn demo() -> Result<(), sqlx::Error> {
/// let pool = PgPoolOptions::new()
///     .after_connect(|conn, _meta| {
///         Box::pin(async move {
///             eventsource_postgres::tcp_nodelay(conn).await?;
///             Ok(())
///         })
///     })
///     .connect("postgres://app@db.internal/app")
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// The query asking the server for the ports failed.
pub async fn tcp_nodelay(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    // The connection as the server sees it: its far end is our socket.
    let seen: (Option<String>, Option<i32>, Option<String>, Option<i32>) = sqlx::query_as(
        "SELECT host(inet_client_addr()), inet_client_port(), \
                host(inet_server_addr()), inet_server_port()",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (Some(local), Some(remote)) = (
        address(seen.0.as_deref(), seen.1),
        address(seen.2.as_deref(), seen.3),
    ) else {
        // A Unix socket: no addresses, nothing to set.
        return Ok(false);
    };
    // `conn` stays borrowed, so its socket cannot close while we look.
    Ok(tcp_nodelay_between(local, remote))
}

/// Turns on `TCP_NODELAY` for this process's TCP socket from `local` to
/// `remote`, if it has one; returns whether it did. For connections made
/// by another client library (an older sqlx, tokio-postgres): ask the
/// server for `inet_client_addr()`, `inet_client_port()`,
/// `inet_server_addr()` and `inet_server_port()` on the connection and pass
/// them here while the connection is open. [`tcp_nodelay`] does both for
/// this crate's sqlx.
pub fn tcp_nodelay_between(local: SocketAddr, remote: SocketAddr) -> bool {
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    sockets::set_nodelay(canonical(local), canonical(remote))
}

/// A socket address from the server's text and port.
fn address(host: Option<&str>, port: Option<i32>) -> Option<SocketAddr> {
    let ip: IpAddr = host?.parse().ok()?;
    let port = u16::try_from(port?).ok()?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(unix)]
mod sockets {
    use nix::sys::socket::{SockaddrStorage, getpeername, getsockname, setsockopt, sockopt};
    use std::net::{IpAddr, SocketAddr};
    use std::os::fd::{BorrowedFd, RawFd};

    /// Sets `TCP_NODELAY` on the process's TCP socket from `local` to
    /// `remote`; whether there was one.
    pub(super) fn set_nodelay(local: SocketAddr, remote: SocketAddr) -> bool {
        let Some(fd) = descriptors().find(|&fd| ends(fd) == Some((local, remote))) else {
            return false;
        };
        set(fd)
    }

    /// The open descriptors, read from the directory the OS keeps of them
    /// (none where there is no such directory).
    fn descriptors() -> impl Iterator<Item = RawFd> {
        let listing = std::fs::read_dir("/proc/self/fd").or_else(|_| std::fs::read_dir("/dev/fd"));
        listing
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
    }

    /// An IP socket's two ends; `None` for anything else.
    fn ends(fd: RawFd) -> Option<(SocketAddr, SocketAddr)> {
        let ip = |addr: SockaddrStorage| {
            let ip = if let Some(v4) = addr.as_sockaddr_in() {
                SocketAddr::new(IpAddr::V4(v4.ip()), v4.port())
            } else {
                let v6 = addr.as_sockaddr_in6()?;
                SocketAddr::new(IpAddr::V6(v6.ip()), v6.port())
            };
            Some(SocketAddr::new(ip.ip().to_canonical(), ip.port()))
        };
        let local = ip(getsockname::<SockaddrStorage>(fd).ok()?)?;
        let remote = ip(getpeername::<SockaddrStorage>(fd).ok()?)?;
        Some((local, remote))
    }

    #[allow(unsafe_code)]
    fn set(fd: RawFd) -> bool {
        // SAFETY: `fd` is the socket of the connection our caller holds
        // borrowed (no other live socket has the same two ends), so it
        // stays open for this call; the borrow goes no further.
        let socket = unsafe { BorrowedFd::borrow_raw(fd) };
        setsockopt(&socket, sockopt::TcpNoDelay, &true).is_ok()
    }
}

#[cfg(not(unix))]
mod sockets {
    use std::net::SocketAddr;

    pub(super) fn set_nodelay(_local: SocketAddr, _remote: SocketAddr) -> bool {
        false
    }
}

/// The pool settings of the pools the store builds itself: no ping
/// before handing a connection out (it costs a round trip per
/// operation), and `TCP_NODELAY` on every new connection.
pub(crate) fn pool_options(max_connections: u32) -> sqlx::postgres::PgPoolOptions {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(max_connections)
        .test_before_acquire(false)
        .after_connect(|conn, _| {
            Box::pin(async move {
                tcp_nodelay(conn).await?;
                Ok(())
            })
        })
}
