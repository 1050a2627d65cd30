//! What every backend offers besides data: its name, a health ping, pool
//! metrics and shutdown ([`StoreMaintenance`]), and the availability gate
//! ([`Availability`]) that the ping opens and closes and every data call
//! checks first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;

use super::error::StoreError;

/// The pool's connections at one moment, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConnections {
    pub in_use: u32,
    pub idle: u32,
}

#[async_trait]
pub trait StoreMaintenance: Send + Sync {
    /// `postgres` or `sqlite`, for logs.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers a trivial query within `within`.
    /// Never refused by the availability gate: its outcome opens or closes
    /// that gate.
    async fn ping(&self, within: Duration) -> Result<(), StoreError>;

    /// Connections in use and idle.
    fn pool_connections(&self) -> PoolConnections;

    /// Closes the connection pool, waiting for connections in use.
    async fn close(&self);
}

/// Whether the last health ping reached the database. While it did not,
/// every call fails at once as `Unavailable` instead of waiting out the
/// pool's acquire timeout: callers get a fast, retryable error during an
/// outage, and the pool reconnects by itself once pings succeed again.
#[derive(Debug)]
pub(crate) struct Availability {
    reachable: AtomicBool,
}

impl Default for Availability {
    fn default() -> Self {
        Self {
            reachable: AtomicBool::new(true),
        }
    }
}

impl Availability {
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.reachable.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "the database did not answer the last health check".into(),
            ))
        }
    }

    pub(crate) fn record_ping(&self, answered: bool) {
        self.reachable.store(answered, Ordering::Relaxed);
    }
}
