//! Serving the HTTP listener: each accepted connection (TLS when
//! configured) is served by hyper-util's auto builder (HTTP/1.1, and HTTP/2
//! by prior knowledge or ALPN) with hyper's HTTP/1 header timeout, HTTP/2
//! keep-alive pings, and the connection's watchdog: no first request within
//! the header timeout, or nothing in flight for the idle timeout, and the
//! connection is shut down gracefully. On `stop` the listener closes at
//! once and every connection is shut down gracefully: in-flight requests
//! finish (the caller bounds the wait with the shutdown grace).
//!
//! HTTP that does not parse (control bytes in a header, headers too large)
//! is answered by hyper itself with a bare 400 or 431 and the connection
//! closed: hyper 1 has no hook for that answer, and the bytes never became a
//! request, so there is no operation, request id or AWS dialect to answer
//! in. Writing a parser of our own to do better would add attack surface for
//! no client's benefit. (Both `Content-Length` and `Transfer-Encoding` does
//! parse: hyper reads the body as chunked, per RFC 9112, and closes the
//! connection after the answer.)

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::ConnectionLimits;
use super::accept::{Accepted, Acceptor};
use super::activity::TrackRequestsLayer;
use super::connection::establish;
use super::tls::ReloadableTls;

fn builder(limits: &ConnectionLimits) -> Builder<TokioExecutor> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        // The longest request head, and the ceiling of the connection's read
        // buffer: at hyper's floor (8 KiB, the default) the buffer stays at its
        // first 8 KiB instead of growing to 16 KiB on the first request.
        .max_buf_size(limits.max_header_bytes)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.keepalive_interval)
        .keep_alive_timeout(limits.keepalive_timeout);
    builder
}

/// Serves `router` on every connection `acceptor` accepts until `stop`.
pub async fn serve_http(
    acceptor: Acceptor,
    tls: Option<std::sync::Arc<ReloadableTls>>,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) {
    let builder = builder(&limits);
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => break,
            accepted = acceptor.accept() => accepted,
        };
        connections.spawn(serve_connection(
            accepted,
            tls.clone(),
            router.clone(),
            builder.clone(),
            limits,
            stop.clone(),
        ));
    }
    // Closes the listening socket: new clients are refused, not left hanging.
    drop(acceptor);
    connections.close();
    connections.wait().await;
}

async fn serve_connection(
    accepted: Accepted,
    tls: Option<std::sync::Arc<ReloadableTls>>,
    router: Router,
    builder: Builder<TokioExecutor>,
    limits: ConnectionLimits,
    stop: CancellationToken,
) {
    let Some(connection) = establish(accepted, tls.as_deref(), limits.header_timeout).await else {
        return;
    };
    let info = connection.info().clone();
    let activity = info.activity.clone();
    let service = tower::ServiceBuilder::new()
        .layer(TrackRequestsLayer)
        .service(router)
        .map_request(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(info.clone());
            request
        });
    let served =
        builder.serve_connection(TokioIo::new(connection), TowerToHyperService::new(service));
    tokio::pin!(served);
    let idle = activity.until_idle_too_long(limits.header_timeout, limits.idle_timeout);
    tokio::pin!(idle);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            outcome = served.as_mut() => {
                if let Err(error) = outcome {
                    tracing::debug!(%error, "HTTP connection ended with an error");
                }
                return;
            }
            () = stop.cancelled(), if !shutting_down => {
                shutting_down = true;
                served.as_mut().graceful_shutdown();
            }
            () = &mut idle, if !shutting_down => {
                shutting_down = true;
                served.as_mut().graceful_shutdown();
            }
        }
    }
}
