//! The listeners, below what they serve: accepting TCP connections with a
//! cap per listener and a back-off when the process runs out of file
//! descriptors (`accept`), TLS with certificates reloaded on SIGHUP (`tls`),
//! what each connection is doing and the deadlines that close it
//! (`activity`: first request, idle), the accepted stream both servers read
//! (`connection`), and serving: the HTTP facade through hyper-util with its
//! header timeout and HTTP/2 keep-alive (`http`), gRPC by handing accepted
//! connections to tonic (`grpc`). `app.rs` wires them; nothing here knows
//! what is served.
//!
//! Why this is not `axum::serve` and `TcpIncoming`: neither caps
//! connections, backs off on `EMFILE` (tonic's loop spins on it), reloads
//! certificates, or bounds a connection that never sends a request (axum's
//! serve sets no hyper timer, so no header timeout applies at all).
//!
//! # Layout
//! ```text
//! module       entry points                      uses
//! http         serve_http                        accept, activity, connection, tls
//! grpc         incoming (a Stream for tonic)     accept, activity, connection, tls
//! connection   Connection, ConnectionInfo        activity
//! activity     Activity, TrackRequestsLayer      -
//! tls          TlsSettings, ReloadableTls        -
//! accept       Acceptor                          -
//! ```

mod accept;
mod activity;
mod connection;
mod grpc;
mod http;
mod tls;

use std::time::Duration;

pub use accept::Acceptor;
pub use activity::TrackRequestsLayer;
pub use connection::{Connection, ConnectionInfo};
pub use grpc::incoming;
pub use http::serve_http;
pub use tls::{ReloadableTls, TlsError, TlsSettings};

/// The limits every connection of a listener lives under.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// For the TLS handshake, for the first request to start, and for an
    /// HTTP/1 request's headers (hyper also closes an HTTP/1 keep-alive
    /// connection idle this long: it has one timer for both).
    pub header_timeout: Duration,
    /// A connection with no request in flight this long is closed.
    pub idle_timeout: Duration,
    /// Longest HTTP/1 request line and headers (hyper's read buffer limit).
    pub max_header_bytes: usize,
    /// HTTP/2 pings: how often, and how long one may go unanswered.
    pub keepalive_interval: Duration,
    pub keepalive_timeout: Duration,
}

/// Raises the soft limit on open files to the hard limit, so that the
/// connection cap, not the default soft limit (often 1,024), bounds how
/// many connections are served. Returns the limit now in force.
pub fn raise_open_files_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
