//! A TCP proxy in front of Postgres that a test can cut and restore, to take
//! the database away from a running server without disturbing the other
//! tests that share the Postgres server.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::wait::wait_until;

pub struct TcpProxy {
    address: SocketAddr,
    target: SocketAddr,
    /// Cancelling it closes the listener and every proxied connection.
    generation: Mutex<CancellationToken>,
}

impl TcpProxy {
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let proxy = Self {
            address: listener.local_addr().unwrap(),
            target,
            generation: Mutex::new(CancellationToken::new()),
        };
        proxy.serve(listener);
        proxy
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    fn serve(&self, listener: TcpListener) {
        let generation = self.generation.lock().unwrap().clone();
        let target = self.target;
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    () = generation.cancelled() => return,
                    accepted = listener.accept() => accepted,
                };
                let Ok((mut client, _)) = accepted else {
                    continue;
                };
                let generation = generation.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        () = generation.cancelled() => {}
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    }
                });
            }
        });
    }

    /// Refuses new connections and drops the open ones: the database is gone.
    pub fn cut(&self) {
        self.generation.lock().unwrap().cancel();
    }

    /// Accepts connections again on the same address.
    pub async fn restore(&self) {
        *self.generation.lock().unwrap() = CancellationToken::new();
        // The cancelled accept loop may still hold the port for a moment.
        let listener = wait_until(
            Duration::from_secs(10),
            &format!("the proxy's port {} to be free again", self.address),
            async || {
                TcpListener::bind(self.address)
                    .await
                    .map_err(|error| error.to_string())
            },
        )
        .await;
        self.serve(listener);
    }
}
