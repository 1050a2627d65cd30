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
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

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
    /// Cancelled to end reads (idle too long), and on drop (stops the watchdog).
    close: CancellationToken,
    closing: Pin<Box<WaitForCancellationFutureOwned>>,
    _slot: OwnedSemaphorePermit,
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
        let close = CancellationToken::new();
        Self {
            stream,
            info,
            closing: Box::pin(close.clone().cancelled_owned()),
            close,
            _slot: slot,
        }
    }

    pub fn info(&self) -> &ConnectionInfo {
        &self.info
    }

    /// Cancelling it ends the connection's reads.
    pub(super) fn close_token(&self) -> CancellationToken {
        self.close.clone()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close.cancel();
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.closing.as_mut().poll(context).is_ready() {
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
