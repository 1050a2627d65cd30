//! The gRPC listener's connections, as the stream tonic's
//! `serve_with_incoming_shutdown` takes: accepted (with the cap and the
//! back-off of `accept`), TLS-handshaken off the accept loop, each watched
//! by a task that ends its reads when it has been idle too long (tonic owns
//! the connection, so ending its input is how it is closed; nothing is in
//! flight then). tonic stops pulling on shutdown and drops the stream,
//! which stops the accept loop and closes the listening socket.

use std::io;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::mpsc;

use super::ConnectionLimits;
use super::accept::Acceptor;
use super::connection::{Connection, establish};
use super::tls::ReloadableTls;

/// Connections established but not yet taken by tonic.
const HANDOVER_QUEUE: usize = 64;

/// The connections `acceptor` accepts, ready for tonic.
pub fn incoming(
    acceptor: Acceptor,
    tls: Option<Arc<ReloadableTls>>,
    limits: ConnectionLimits,
) -> impl Stream<Item = io::Result<Connection>> {
    let (ready, mut taken) = mpsc::channel::<Connection>(HANDOVER_QUEUE);
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                () = ready.closed() => return,
                accepted = acceptor.accept() => accepted,
            };
            let (ready, tls) = (ready.clone(), tls.clone());
            tokio::spawn(async move {
                let Some(connection) =
                    establish(accepted, tls.as_deref(), limits.header_timeout).await
                else {
                    return;
                };
                let activity = connection.info().activity.clone();
                let (close_reads, dropped) = connection.watchdog_handles();
                if ready.send(connection).await.is_err() {
                    return;
                }
                tokio::select! {
                    () = activity.until_idle_too_long(limits.header_timeout, limits.idle_timeout) => close_reads.raise(),
                    () = dropped.cancelled() => {}
                }
            });
        }
    });
    futures::stream::poll_fn(move |context| taken.poll_recv(context).map(|next| next.map(Ok)))
}
