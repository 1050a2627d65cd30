//! The connections the coalesced status reads run on, kept out of the pool.
//!
//! sqlx 0.8 pings a pooled connection every time it goes back to the pool:
//! a second round trip to Postgres after every statement, on a task of its
//! own, and no pool option turns it off. A status read is one statement on
//! a connection that has just answered, so the reads take their connections
//! out of the pool once (`PoolConnection::detach`) and keep them. A
//! connection whose statement failed is dropped (the next read takes a new
//! one from the pool), and one idle for `ping_when_idle_for` is pinged
//! before use, as the pool does with its own.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::errors::classify;
use crate::store::error::StoreError;

/// At most `size` connections, each used by one read at a time.
pub(super) struct ReadConnections {
    pool: PgPool,
    size: usize,
    in_use: Arc<Semaphore>,
    idle: Mutex<Vec<(PgConnection, Instant)>>,
    ping_when_idle_for: Duration,
}

/// One of the read connections, out for one statement. Dropped without
/// [`ReadConnection::keep`] (its statement failed, or its caller went
/// away mid-statement), the connection is closed rather than reused.
pub(super) struct ReadConnection {
    owner: Arc<ReadConnections>,
    connection: Option<PgConnection>,
    _in_use: OwnedSemaphorePermit,
}

impl ReadConnections {
    /// `size` connections taken from `pool` as reads first need them.
    pub(super) fn new(pool: &PgPool, size: usize, ping_when_idle_for: Duration) -> Arc<Self> {
        let size = size.max(1);
        Arc::new(Self {
            pool: pool.clone(),
            size,
            in_use: Arc::new(Semaphore::new(size)),
            idle: Mutex::new(Vec::with_capacity(size)),
            ping_when_idle_for,
        })
    }

    /// How many connections the reads may hold.
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// A connection for one statement: a kept one if there is one (pinged
    /// first if it has been idle a while), else a new one from the pool.
    pub(super) async fn take(self: &Arc<Self>) -> Result<ReadConnection, StoreError> {
        let in_use = Arc::clone(&self.in_use)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Internal("the read connections are closed".into()))?;
        let kept = self.idle.lock().expect("read connections lock").pop();
        let connection = match kept {
            Some((connection, last_used)) if last_used.elapsed() < self.ping_when_idle_for => {
                connection
            }
            Some((mut connection, _)) => match connection.ping().await {
                Ok(()) => connection,
                Err(_) => self.detach_one_from_pool().await?,
            },
            None => self.detach_one_from_pool().await?,
        };
        Ok(ReadConnection {
            owner: Arc::clone(self),
            connection: Some(connection),
            _in_use: in_use,
        })
    }

    async fn detach_one_from_pool(&self) -> Result<PgConnection, StoreError> {
        Ok(self.pool.acquire().await.map_err(classify)?.detach())
    }
}

impl ReadConnection {
    pub(super) fn connection(&mut self) -> &mut PgConnection {
        self.connection
            .as_mut()
            .expect("a read connection is present until kept")
    }

    /// Its statement answered: the connection is good for the next read.
    pub(super) fn keep(mut self) {
        if let Some(connection) = self.connection.take() {
            self.owner
                .idle
                .lock()
                .expect("read connections lock")
                .push((connection, Instant::now()));
        }
    }
}
