//! The purge of expired records: requests past the retention (with their
//! events) and `INSYNC` change tokens past it, deleted in small batches so
//! that no statement holds locks for long. Every replica may run it; the
//! deletes are idempotent.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::service::Services;

/// Rows deleted per purge statement: small enough that no lock is held long.
const PURGE_BATCH_SIZE: u32 = 500;

/// Deletes expired requests and tokens in small batches, every `interval`,
/// the first pass one interval after start (replicas starting together do
/// not all purge at once, and a fresh server answers before it deletes).
pub async fn purge_periodically(
    services: Services,
    metrics: Arc<Metrics>,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let purged = purge_expired(&services, &stop).await;
        metrics.observe_purge(purged.requests, purged.change_tokens);
        if purged.requests + purged.change_tokens > 0 {
            tracing::info!(
                requests = purged.requests,
                change_tokens = purged.change_tokens,
                "purged expired records"
            );
        }
    }
}

/// What one purge pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub requests: u64,
    pub change_tokens: u64,
}

/// One purge pass: each kind of record is deleted batch by batch until a
/// batch comes back short, an error occurs (logged; the next pass retries),
/// or `stop` is cancelled.
pub async fn purge_expired(services: &Services, stop: &CancellationToken) -> Purged {
    Purged {
        requests: purge_in_batches("requests", stop, || {
            services.resource_requests.purge_expired(PURGE_BATCH_SIZE)
        })
        .await,
        change_tokens: purge_in_batches("change tokens", stop, || {
            services.change_tokens.purge_expired(PURGE_BATCH_SIZE)
        })
        .await,
    }
}

async fn purge_in_batches<Batch>(
    records: &'static str,
    stop: &CancellationToken,
    mut purge_batch: impl FnMut() -> Batch,
) -> u64
where
    Batch: Future<Output = Result<u64, crate::domain::Error>>,
{
    let mut total = 0;
    while !stop.is_cancelled() {
        match purge_batch().await {
            Ok(deleted) => {
                total += deleted;
                if deleted < u64::from(PURGE_BATCH_SIZE) {
                    break;
                }
            }
            Err(error) => {
                tracing::warn!(records, %error, "purging expired records failed");
                break;
            }
        }
    }
    total
}
