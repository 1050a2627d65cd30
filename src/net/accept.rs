//! Accepting connections on one listener: at most `max_connections` at once
//! (a slot is taken before `accept`, so beyond the cap new connections wait
//! in the kernel's backlog rather than being accepted and dropped), and a
//! back-off when `accept` fails for want of resources: at the file-descriptor
//! limit (`EMFILE`/`ENFILE`) the listening socket stays readable, and a loop
//! that retries at once burns a core while serving nobody. The back-off
//! starts at 10 ms and doubles to 1 s; connections already open are served
//! throughout, and their closing frees the descriptors `accept` needs.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A bound listener and its connection slots.
pub struct Acceptor {
    name: &'static str,
    listener: TcpListener,
    slots: Arc<Semaphore>,
}

/// An accepted connection and the slot it holds until it is dropped.
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub slot: OwnedSemaphorePermit,
}

/// Failures of one connection that came and went before it was accepted:
/// try the next one at once.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

fn is_out_of_descriptors(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

impl Acceptor {
    /// Binds `address` for the listener called `name` (in logs).
    pub async fn bind(
        name: &'static str,
        address: SocketAddr,
        max_connections: usize,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind(address).await?;
        Ok(Self {
            name,
            listener,
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
        })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The next connection, once a slot is free. Never fails: failures to
    /// accept are logged and retried (at once, or after the back-off).
    pub async fn accept(&self) -> Accepted {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the connection slots are never closed");
        let mut backoff = FIRST_BACKOFF;
        let mut paused = false;
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    if paused {
                        tracing::info!(listener = self.name, "accepting connections again");
                    }
                    // Small request/response exchanges: no Nagle delay.
                    let _ = stream.set_nodelay(true);
                    return Accepted { stream, peer, slot };
                }
                Err(error) if is_per_connection(&error) => continue,
                Err(error) => {
                    if !paused {
                        let cause = if is_out_of_descriptors(&error) {
                            "out of file descriptors"
                        } else {
                            "accept failed"
                        };
                        tracing::warn!(
                            listener = self.name,
                            %error,
                            "{cause}; backing off (open connections are still served)"
                        );
                        paused = true;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_exhaustion_backs_off_and_vanished_connections_do_not() {
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(
            libc::ENFILE
        )));
        assert!(!is_per_connection(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(is_per_connection(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }

    #[tokio::test]
    async fn beyond_the_cap_connections_wait_until_a_slot_frees() {
        let acceptor = Acceptor::bind("test", "127.0.0.1:0".parse().unwrap(), 1)
            .await
            .unwrap();
        let address = acceptor.local_addr().unwrap();
        let _first_client = TcpStream::connect(address).await.unwrap();
        let first = acceptor.accept().await;
        let _second_client = TcpStream::connect(address).await.unwrap();
        let waiting = tokio::time::timeout(Duration::from_millis(50), acceptor.accept()).await;
        assert!(
            waiting.is_err(),
            "a second connection was accepted beyond the cap"
        );
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), acceptor.accept()).await;
        assert!(second.is_ok(), "the freed slot lets the next connection in");
    }
}
