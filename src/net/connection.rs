//! The accepted stream both servers read: plain TCP or TLS over it, holding
//! its connection slot until it is dropped, and carrying a
//! [`ConnectionInfo`] (the peer's address and the connection's
//! [`Activity`]) for the request layers. When its watchdog decides the
//! connection is idle too long, reads end (end of file): for gRPC, where
//! tonic owns the connection, that is how an idle connection is closed (the
//! HTTP listener shuts its connections down gracefully instead). Nothing is
//! in flight by then, so nothing acknowledged is lost.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures::task::AtomicWaker;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use super::activity::Activity;

/// Who is on the other end of a connection, and what it is doing; in the
/// extensions of every request on it.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub remote_address: SocketAddr,
    pub(super) activity: Arc<Activity>,
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One accepted connection.
pub struct Connection {
    stream: Stream,
    info: ConnectionInfo,
    /// Raised to end reads (idle too long).
    close_reads: Arc<CloseReads>,
    /// Cancelled on drop (stops the watchdog).
    dropped: CancellationToken,
    _slot: OwnedSemaphorePermit,
}

/// Ends a connection's reads once raised. Hand-written rather than a
/// `CancellationToken`, whose every check locks a mutex: the reads look at
/// it on every wake-up of the connection, so here a check is one atomic
/// load, and a read that waits registers its waker lock-free.
#[derive(Default)]
pub(super) struct CloseReads {
    raised: AtomicBool,
    reader: AtomicWaker,
}

impl CloseReads {
    pub(super) fn raise(&self) {
        self.raised.store(true, Ordering::Release);
        self.reader.wake();
    }

    /// Whether it was raised; if not, the reader is woken when it is.
    fn poll_raised(&self, context: &Context<'_>) -> bool {
        if self.raised.load(Ordering::Acquire) {
            return true;
        }
        self.reader.register(context.waker());
        // Raised between the first look and the registration.
        self.raised.load(Ordering::Acquire)
    }
}

impl Connection {
    pub(super) fn plain(
        stream: TcpStream,
        info: ConnectionInfo,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        Self::new(Stream::Plain(stream), info, slot)
    }

    pub(super) fn tls(
        stream: TlsStream<TcpStream>,
        info: ConnectionInfo,
        slot: OwnedSemaphorePermit,
    ) -> Self {
        Self::new(Stream::Tls(Box::new(stream)), info, slot)
    }

    fn new(stream: Stream, info: ConnectionInfo, slot: OwnedSemaphorePermit) -> Self {
        Self {
            stream,
            info,
            close_reads: Arc::default(),
            dropped: CancellationToken::new(),
            _slot: slot,
        }
    }

    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// What the watchdog needs: the signal that ends the reads, and a token
    /// cancelled when the connection is dropped.
    pub(super) fn watchdog_handles(&self) -> (Arc<CloseReads>, CancellationToken) {
        (self.close_reads.clone(), self.dropped.clone())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.dropped.cancel();
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.close_reads.poll_raised(context) {
            // End of file: the server side of the connection winds down.
            return Poll::Ready(Ok(()));
        }
        match &mut self.stream {
            Stream::Plain(stream) => Pin::new(stream).poll_read(context, buffer),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_read(context, buffer),
        }
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Stream::Plain(stream) => Pin::new(stream).poll_write(context, bytes),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write(context, bytes),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Stream::Plain(stream) => Pin::new(stream).poll_write_vectored(context, buffers),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(context, buffers),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(stream) => stream.is_write_vectored(),
            Stream::Tls(stream) => stream.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(stream) => Pin::new(stream).poll_flush(context),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(context),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(stream) => Pin::new(stream).poll_shutdown(context),
            Stream::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(context),
        }
    }
}

impl tonic::transport::server::Connected for Connection {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        self.info.clone()
    }
}

/// Makes a [`Connection`] of an accepted stream: the TLS handshake, when the
/// listener has TLS, must finish within `handshake_timeout`. `None` when it
/// fails (logged at debug: a client's failure, not ours).
pub(super) async fn establish(
    accepted: super::accept::Accepted,
    tls: Option<&super::tls::ReloadableTls>,
    handshake_timeout: std::time::Duration,
) -> Option<Connection> {
    let info = ConnectionInfo {
        remote_address: accepted.peer,
        activity: Activity::new(),
    };
    let Some(tls) = tls else {
        return Some(Connection::plain(accepted.stream, info, accepted.slot));
    };
    let handshake = tls.acceptor().accept(accepted.stream);
    match tokio::time::timeout(handshake_timeout, handshake).await {
        Ok(Ok(stream)) => Some(Connection::tls(stream, info, accepted.slot)),
        Ok(Err(error)) => {
            tracing::debug!(peer = %accepted.peer, %error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(peer = %accepted.peer, "TLS handshake timed out");
            None
        }
    }
}
