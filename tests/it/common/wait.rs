//! Waiting for something to happen, bounded, instead of sleeping for a time
//! that is too long on a fast machine and too short on a loaded one.

use std::time::{Duration, Instant};

/// How often [`wait_until`] asks again.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Polls `poll` every few milliseconds until it answers `Ok`, and returns
/// that value. Until then `poll` answers `Err` with what it saw instead; if it
/// still does after `timeout`, this panics naming what was `awaited` and the
/// last thing seen. Give it a generous timeout (seconds): a wait only costs
/// as long as the awaited thing takes.
pub async fn wait_until<T>(
    timeout: Duration,
    awaited: &str,
    mut poll: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        let last_seen = match poll().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {awaited} (last seen: {last_seen})"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
