//! Waiting and watching instead of polling: `WaitResourceRequest`,
//! `WatchResourceRequest` and `WatchChangeToken` (and google.longrunning's
//! `WaitOperation`, which is the first).
//!
//! Each follows the store's notification contract (`store::Notifications`):
//! subscribe, then read; on every wake, read again what is new. A request
//! watcher reads the events numbered after the last one it delivered, so it
//! delivers each event once and in order however many wakes it gets or
//! misses, and a slow consumer only reads later. A wake costs one read of
//! that watcher; no watcher reads unless its own topic was notified.
//!
//! Streams end on their own (after a terminal event, after `INSYNC`), on a
//! read error, or when the server shuts down (the caller resumes on another
//! server from the last event number it saw).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use tokio_util::sync::CancellationToken;

use super::change_tokens::ChangeTokenService;
use super::resource_requests::ResourceRequestService;
use crate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus};
use crate::domain::resource::AccountRegion;
use crate::domain::resource_request::{NumberedEvent, ProgressEvent};
use crate::domain::values::{ChangeToken, RequestToken, WaitTimeout};
use crate::domain::{Clock, Error, ErrorCode, FieldViolation};
use crate::store::{Store, Subscription, Topic};

/// The longest wait a server whose requests time out after `request_timeout`
/// grants: that timeout less a margin (a tenth of it, at most one second),
/// so that a wait answers before the server abandons it.
pub fn max_wait_within(request_timeout: Duration) -> Duration {
    let margin = (request_timeout / 10).min(Duration::from_secs(1));
    request_timeout.saturating_sub(margin)
}

fn shutting_down() -> Error {
    Error::new(
        ErrorCode::ServiceUnavailable,
        "The server is shutting down; watch again (on another server) to resume",
    )
}

#[derive(Clone)]
pub struct WatchService {
    requests: ResourceRequestService,
    change_tokens: ChangeTokenService,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    retention: Duration,
    /// No wait lasts longer (see [`max_wait_within`]).
    max_wait: Duration,
    /// Cancelled when the server shuts down: streams end, waits answer.
    shutdown: CancellationToken,
}

impl WatchService {
    pub fn new(
        requests: ResourceRequestService,
        change_tokens: ChangeTokenService,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        retention: Duration,
    ) -> Self {
        Self {
            requests,
            change_tokens,
            store,
            clock,
            retention,
            max_wait: WaitTimeout::MAX,
            shutdown: CancellationToken::new(),
        }
    }

    /// The same service with the server's limits: waits end by `max_wait`,
    /// streams end and waits answer when `shutdown` is cancelled.
    pub fn with_limits(self, max_wait: Duration, shutdown: CancellationToken) -> Self {
        Self {
            max_wait,
            shutdown,
            ..self
        }
    }

    /// The request's current event once it is terminal, or when `timeout`
    /// (capped by the server's limit and by `within`, the caller's own
    /// deadline less a margin) has passed, whichever comes first.
    pub async fn wait(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        timeout: WaitTimeout,
        within: Option<Duration>,
    ) -> Result<ProgressEvent, Error> {
        let limit = timeout
            .get()
            .min(self.max_wait)
            .min(within.unwrap_or(Duration::MAX));
        let deadline = tokio::time::Instant::now() + limit;
        let mut subscription = self
            .store
            .subscribe(Topic::RequestEvents(token.as_str().to_owned()));
        loop {
            let event = self.requests.get_status(scope, token).await?;
            if event.operation_status.is_terminal() {
                return Ok(event);
            }
            tokio::select! {
                () = subscription.changed() => {}
                () = tokio::time::sleep_until(deadline) => {
                    return self.requests.get_status(scope, token).await;
                }
                () = self.shutdown.cancelled() => return Ok(event),
            }
        }
    }

    /// The request's events: the current one first, or with `start_after`
    /// every event numbered after it; then each later one, ending after the
    /// terminal event. `NotFound` (before the stream starts) for an unknown
    /// request; `InvalidParameter` for a `start_after` beyond the history.
    pub async fn watch_request(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        start_after: Option<i64>,
    ) -> Result<BoxStream<'static, Result<NumberedEvent, Error>>, Error> {
        let subscription = self
            .store
            .subscribe(Topic::RequestEvents(token.as_str().to_owned()));
        let history = self.events_after(scope, token, 0).await?;
        let recorded = history.last().map_or(0, |last| last.number);
        let pending: VecDeque<NumberedEvent> = match start_after {
            None => history.into_iter().last().into_iter().collect(),
            Some(number) if (0..=recorded).contains(&number) => history
                .into_iter()
                .filter(|event| event.number > number)
                .collect(),
            Some(number) => {
                return Err(Error::invalid_input(FieldViolation::invalid(
                    "StartAfterEventNumber",
                    &number.to_string(),
                    format!("Member must be between 0 and the request's {recorded} events"),
                )));
            }
        };
        let watch = RequestWatch {
            service: self.clone(),
            scope: scope.clone(),
            token: token.clone(),
            subscription,
            delivered: start_after.unwrap_or(recorded.saturating_sub(1)),
            pending,
            done: false,
        };
        Ok(stream::unfold(watch, RequestWatch::next).boxed())
    }

    /// The token's status now, then each later one in order (a status the
    /// token passed through between two reads included), ending with
    /// `INSYNC`. Errors before the stream starts as for
    /// `GetChangeTokenStatus`.
    pub async fn watch_change_token(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
    ) -> Result<BoxStream<'static, Result<ChangeTokenStatus, Error>>, Error> {
        let subscription = self
            .store
            .subscribe(Topic::ChangeTokenStatus(token.as_str().to_owned()));
        let current = self
            .change_tokens
            .get_change_token_status(scope, token)
            .await?;
        let watch = TokenWatch {
            service: self.clone(),
            scope: scope.clone(),
            token: token.clone(),
            subscription,
            delivered: None,
            pending: VecDeque::from([current]),
            done: false,
        };
        Ok(stream::unfold(watch, TokenWatch::next).boxed())
    }

    async fn events_after(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        after: i64,
    ) -> Result<Vec<NumberedEvent>, Error> {
        let visible_since = self.clock.now().minus(self.retention);
        self.store
            .list_progress_events_after(scope, token, visible_since, after)
            .await
            .map_err(|error| {
                ResourceRequestService::map_lookup_error(token, "WatchResourceRequest", error)
            })
    }
}

/// One `WatchResourceRequest` stream's state.
struct RequestWatch {
    service: WatchService,
    scope: AccountRegion,
    token: RequestToken,
    subscription: Subscription,
    /// The number of the last event delivered (or skipped as before the start).
    delivered: i64,
    pending: VecDeque<NumberedEvent>,
    done: bool,
}

impl RequestWatch {
    async fn next(mut self) -> Option<(Result<NumberedEvent, Error>, Self)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                self.delivered = event.number;
                if event.event.operation_status.is_terminal() {
                    self.done = true;
                    self.pending.clear();
                }
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            tokio::select! {
                () = self.subscription.changed() => {}
                () = self.service.shutdown.cancelled() => {
                    self.done = true;
                    return Some((Err(shutting_down()), self));
                }
            }
            match self
                .service
                .events_after(&self.scope, &self.token, self.delivered)
                .await
            {
                Ok(events) => self.pending.extend(events),
                Err(error) => {
                    self.done = true;
                    return Some((Err(error), self));
                }
            }
        }
    }
}

/// The order a change token moves through its statuses.
fn rank(status: ChangeTokenStatus) -> u8 {
    match status {
        ChangeTokenStatus::Provisioned => 0,
        ChangeTokenStatus::Pending => 1,
        ChangeTokenStatus::InSync => 2,
    }
}

/// The statuses after `from` up to and including `to`, in order: what a
/// token went through between two reads.
fn statuses_between(from: ChangeTokenStatus, to: ChangeTokenStatus) -> Vec<ChangeTokenStatus> {
    [
        ChangeTokenStatus::Provisioned,
        ChangeTokenStatus::Pending,
        ChangeTokenStatus::InSync,
    ]
    .into_iter()
    .filter(|status| rank(*status) > rank(from) && rank(*status) <= rank(to))
    .collect()
}

/// One `WatchChangeToken` stream's state.
struct TokenWatch {
    service: WatchService,
    scope: ChangeTokenScope,
    token: ChangeToken,
    subscription: Subscription,
    delivered: Option<ChangeTokenStatus>,
    pending: VecDeque<ChangeTokenStatus>,
    done: bool,
}

impl TokenWatch {
    async fn next(mut self) -> Option<(Result<ChangeTokenStatus, Error>, Self)> {
        loop {
            if let Some(status) = self.pending.pop_front() {
                self.delivered = Some(status);
                if status == ChangeTokenStatus::InSync {
                    self.done = true;
                }
                return Some((Ok(status), self));
            }
            if self.done {
                return None;
            }
            tokio::select! {
                () = self.subscription.changed() => {}
                () = self.service.shutdown.cancelled() => {
                    self.done = true;
                    return Some((Err(shutting_down()), self));
                }
            }
            let read = self
                .service
                .change_tokens
                .get_change_token_status(&self.scope, &self.token)
                .await;
            match (read, self.delivered) {
                (Ok(status), Some(delivered)) => {
                    self.pending.extend(statuses_between(delivered, status));
                }
                (Ok(status), None) => self.pending.push_back(status),
                (Err(error), _) => {
                    self.done = true;
                    return Some((Err(error), self));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChangeTokenStatus::*;

    #[test]
    fn a_token_that_skipped_a_read_still_reports_each_status() {
        assert_eq!(statuses_between(Provisioned, InSync), [Pending, InSync]);
        assert_eq!(statuses_between(Provisioned, Pending), [Pending]);
        assert_eq!(statuses_between(Pending, Pending), []);
        assert_eq!(statuses_between(InSync, InSync), []);
    }

    #[test]
    fn waits_end_a_margin_before_the_server_gives_up() {
        assert_eq!(
            max_wait_within(Duration::from_secs(30)),
            Duration::from_secs(29)
        );
        assert_eq!(
            max_wait_within(Duration::from_secs(5)),
            Duration::from_millis(4500)
        );
        assert_eq!(max_wait_within(Duration::ZERO), Duration::ZERO);
    }
}
