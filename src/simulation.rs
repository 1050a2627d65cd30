//! Simulation mode for environments with no real worker.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::service::Services;

/// Moves PENDING change tokens to INSYNC `delay` after they were used.
pub async fn propagate_change_tokens(
    _services: Services,
    _delay: Duration,
    stop: CancellationToken,
) {
    stop.cancelled().await;
}

/// Drives resource requests PENDING -> IN_PROGRESS -> SUCCESS.
pub async fn provision_resource_requests(
    _services: Services,
    _delay: Duration,
    stop: CancellationToken,
) {
    stop.cancelled().await;
}
