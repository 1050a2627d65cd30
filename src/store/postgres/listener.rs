//! Notifications on Postgres: every write that a watcher waits for sends
//! `NOTIFY` on one of two channels inside its own transaction, so the
//! notification is delivered at commit (never for a write that rolled back,
//! never before the write is visible), to every process listening on the
//! database. This file owns the receiving end: one `PgListener` connection
//! per process, started with the first subscription, feeding the in-process
//! [`FanOut`].
//!
//! Notifications sent while the listener is not connected are lost, so each
//! time it (re)connects it wakes every subscription after `LISTEN` is in
//! place: each watcher then re-reads once, and nothing committed meanwhile is
//! missed. The payload is the token; the channel says which kind.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgNotification, PgPoolOptions};
use tokio_util::sync::CancellationToken;

use crate::store::notifications::{FanOut, Subscription, Topic};

/// New progress events; the payload is the request token.
pub(super) const REQUEST_EVENTS_CHANNEL: &str = "statusgate_request_events";
/// New change token statuses; the payload is the change token.
pub(super) const CHANGE_TOKENS_CHANNEL: &str = "statusgate_change_tokens";

/// First pause before reconnecting after a failure; doubled up to the max.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// The receiving end of a Postgres store's notifications.
#[derive(Debug)]
pub(super) struct PgNotifications {
    fan_out: Arc<FanOut>,
    options: PgConnectOptions,
    started: OnceLock<()>,
    stop: CancellationToken,
}

impl PgNotifications {
    pub(super) fn new(options: PgConnectOptions) -> Self {
        Self {
            fan_out: Arc::new(FanOut::default()),
            options,
            started: OnceLock::new(),
            stop: CancellationToken::new(),
        }
    }

    /// Subscribes, starting the listener if this is the first subscription
    /// of the process. A subscription made before the listener is
    /// connected is woken once it is, so the watcher's read before that
    /// cannot miss anything.
    pub(super) fn subscribe(&self, topic: Topic) -> Subscription {
        self.started.get_or_init(|| {
            tokio::spawn(listen(
                self.fan_out.clone(),
                self.options.clone(),
                self.stop.clone(),
            ));
        });
        self.fan_out.subscribe(topic)
    }

    /// Stops the listener (the store is closing).
    pub(super) fn stop(&self) {
        self.stop.cancel();
    }
}

/// The topic a notification announces, if it is one of ours.
fn topic_of(notification: &PgNotification) -> Option<Topic> {
    let token = notification.payload().to_owned();
    match notification.channel() {
        REQUEST_EVENTS_CHANNEL => Some(Topic::RequestEvents(token)),
        CHANGE_TOKENS_CHANNEL => Some(Topic::ChangeTokenStatus(token)),
        _ => None,
    }
}

/// A listener on both channels, on a connection of its own (outside the
/// store's pool, which it would otherwise hold one of forever).
async fn connect(options: &PgConnectOptions) -> Result<PgListener, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options.clone());
    let mut listener = PgListener::connect_with(&pool).await?;
    listener
        .listen_all([REQUEST_EVENTS_CHANNEL, CHANGE_TOKENS_CHANNEL])
        .await?;
    Ok(listener)
}

/// Receives notifications until `stop`, reconnecting (with backoff) as
/// often as it takes.
async fn listen(fan_out: Arc<FanOut>, options: PgConnectOptions, stop: CancellationToken) {
    let mut retry = FIRST_RETRY;
    loop {
        let connected = tokio::select! {
            () = stop.cancelled() => return,
            connected = connect(&options) => connected,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?retry, "cannot listen for notifications");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(retry) => {}
                }
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
        };
        retry = FIRST_RETRY;
        tracing::debug!("listening for notifications");
        // Whatever committed before LISTEN was in place was not notified.
        fan_out.notify_all();
        loop {
            let received = tokio::select! {
                () = stop.cancelled() => return,
                received = listener.try_recv() => received,
            };
            match received {
                Ok(Some(notification)) => {
                    if let Some(topic) = topic_of(&notification) {
                        fan_out.notify(&topic);
                    }
                }
                // The connection was lost and has been re-established, with
                // LISTEN again: anything sent in between was lost.
                Ok(None) => {
                    tracing::info!("notification listener reconnected");
                    fan_out.notify_all();
                }
                Err(error) => {
                    tracing::warn!(%error, "notification listener failed; reconnecting");
                    break;
                }
            }
        }
    }
}
