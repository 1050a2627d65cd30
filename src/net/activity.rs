//! What a connection is doing: how many requests are in flight on it and
//! since when it has been idle, fed by [`TrackRequestsLayer`] (a request
//! counts until its response body is done, so a long stream keeps its
//! connection busy), and the deadline that follows from it
//! ([`Activity::until_idle_too_long`]): a connection must start its first
//! request within the header timeout, and one with nothing in flight is
//! closed after the idle timeout. Counting requests rather than bytes keeps
//! HTTP/2 pings (which we send, and which are answered) from making an idle
//! connection look busy.
//!
//! Hand-written: hyper has an idle timer for HTTP/1 only (its header
//! timeout), none for HTTP/2, and none before the protocol is known.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;
use tower::{Layer, Service};

use super::connection::ConnectionInfo;

#[derive(Debug)]
struct State {
    in_flight: usize,
    requests_started: u64,
    idle_since: Instant,
}

/// One connection's requests, shared by its IO, its requests and its watchdog.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<State>,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                in_flight: 0,
                requests_started: 0,
                idle_since: Instant::now(),
            }),
        })
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut state);
    }

    /// Counts a request until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> RequestGuard {
        self.update(|state| {
            state.in_flight += 1;
            state.requests_started += 1;
        });
        RequestGuard(self.clone())
    }

    /// When the connection will have been idle too long, if nothing changes:
    /// `None` while a request is in flight.
    fn deadline(&self, first_request: Duration, idle: Duration) -> Option<Instant> {
        let state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.in_flight > 0 {
            return None;
        }
        let limit = if state.requests_started == 0 {
            first_request
        } else {
            idle
        };
        Some(state.idle_since + limit)
    }

    /// Completes once no request has started within `first_request` of the
    /// connection's start, or none has been in flight for `idle`.
    ///
    /// The watchdog sleeps until the deadline the state gives now and looks
    /// again then, rather than being woken by every request: a request only
    /// moves the deadline later (or away, while it is in flight), so a
    /// request costs no wake-up and no timer reset. The one exception, an
    /// idle timeout shorter than the first-request timeout, closes at the
    /// first-request deadline after the first request: late, never early.
    pub async fn until_idle_too_long(&self, first_request: Duration, idle: Duration) {
        loop {
            let now = Instant::now();
            match self.deadline(first_request, idle) {
                Some(deadline) if deadline <= now => return,
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                // Busy: idle at the earliest `idle` after the request ends.
                None => tokio::time::sleep_until(now + idle).await,
            }
        }
    }
}

/// A request in flight on its connection.
#[derive(Debug)]
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.update(|state| {
            state.in_flight -= 1;
            if state.in_flight == 0 {
                state.idle_since = Instant::now();
            }
        });
    }
}

/// Counts each request on the connection named by its [`ConnectionInfo`]
/// extension (tonic inserts it from the accepted connection; `serve_http`
/// does the same), until its response body has been sent.
#[derive(Debug, Clone, Copy, Default)]
pub struct TrackRequestsLayer;

impl<S> Layer<S> for TrackRequestsLayer {
    type Service = TrackRequests<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TrackRequests { inner }
    }
}

#[derive(Debug, Clone)]
pub struct TrackRequests<S> {
    inner: S,
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for TrackRequests<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<TrackedBody<ResponseBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let guard = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| info.activity.begin());
        let answered = self.inner.call(request);
        Box::pin(async move {
            let response = answered.await?;
            Ok(response.map(|body| TrackedBody {
                body,
                _guard: guard,
            }))
        })
    }
}

/// A response body that keeps its request counted until it is dropped.
#[derive(Debug)]
pub struct TrackedBody<B> {
    body: B,
    _guard: Option<RequestGuard>,
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_too_long_only_with_nothing_in_flight() {
        let activity = Activity::new();
        let first_request = Duration::from_secs(10);
        let idle = Duration::from_secs(60);
        let started = Instant::now();
        activity.until_idle_too_long(first_request, idle).await;
        assert_eq!(started.elapsed(), first_request, "no first request");

        let activity = Activity::new();
        let guard = activity.begin();
        let waiting = tokio::time::timeout(
            Duration::from_secs(600),
            activity.until_idle_too_long(first_request, idle),
        );
        assert!(waiting.await.is_err(), "busy for ten minutes is not idle");
        drop(guard);
        let released = Instant::now();
        activity.until_idle_too_long(first_request, idle).await;
        assert_eq!(released.elapsed(), idle);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_move_a_waiting_watchdog_s_deadline_later() {
        let activity = Activity::new();
        let (first_request, idle) = (Duration::from_secs(10), Duration::from_secs(60));
        let started = Instant::now();
        let watchdog = tokio::spawn({
            let activity = activity.clone();
            async move { activity.until_idle_too_long(first_request, idle).await }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        let guard = activity.begin();
        tokio::time::sleep(Duration::from_secs(100)).await;
        assert!(!watchdog.is_finished(), "a request in flight for 100 s");
        drop(guard);
        watchdog.await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(105) + idle);
    }
}
