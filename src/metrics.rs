//! Prometheus metrics, rendered in the text format at `GET /metrics`. Each
//! application owns its registry (no process-wide globals), so several
//! servers in one process keep separate counts. Operation labels are
//! bounded: only operations the server serves, and [`UNKNOWN_OPERATION`].

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::domain::ErrorCode;
use crate::telemetry::Transport;

/// How a request ended, in one vocabulary for both transports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The caller's fault (invalid input, not found, conflict): a 4xx.
    ClientError,
    /// Ours (database down, internal error): a 5xx.
    ServerError,
    /// Shed under load.
    Throttled,
}

impl Outcome {
    /// How a call that failed with `code` is counted.
    pub const fn of(code: ErrorCode) -> Self {
        match code {
            ErrorCode::InvalidParameter
            | ErrorCode::InvalidRequestState
            | ErrorCode::ChangeTokenNotFound
            | ErrorCode::ChangeTokenAlreadyUsed
            | ErrorCode::ChangeTokenNotUsed
            | ErrorCode::RequestTokenNotFound
            | ErrorCode::ClientTokenConflict
            | ErrorCode::ResourceNotFound
            | ErrorCode::TypeNotFound
            | ErrorCode::ConcurrentOperation
            | ErrorCode::LeaseLost => Self::ClientError,
            ErrorCode::Throttling => Self::Throttled,
            ErrorCode::DatabaseUnavailable
            | ErrorCode::ServiceUnavailable
            | ErrorCode::Internal => Self::ServerError,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ClientError => "client_error",
            Self::ServerError => "server_error",
            Self::Throttled => "throttled",
        }
    }
}

/// The operation label of a request that named no operation statusgate
/// serves (a made-up gRPC method, an unknown `X-Amz-Target`).
pub const UNKNOWN_OPERATION: &str = "unknown";

// Label values are `&'static str`: only names compiled into (or read once
// into) the server can become label values, never text a caller sent, so no
// caller can grow the registry.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    transport: &'static str,
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    transport: &'static str,
    operation: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TransportLabels {
    transport: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PurgeLabels {
    record: &'static str,
}

type LatencyFamily = Family<OperationLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~4 s
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

/// Reads the database pool's (in use, idle) connections at scrape time.
pub type PoolGauge = Box<dyn Fn() -> (u32, u32) + Send + Sync>;

pub struct Metrics {
    registry: Mutex<Registry>,
    pool_gauge: PoolGauge,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    /// `statusgate_in_flight_requests` of each transport, in
    /// [`Transport::ALL`]'s order: looked up once here, not per request.
    in_flight: [Gauge; 3],
    pool_connections: Family<PoolLabels, Gauge>,
    purged: Family<PurgeLabels, Counter>,
}

/// A request being answered; counted in `statusgate_in_flight_requests`
/// until dropped.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Metrics {
    pub fn new(pool_gauge: PoolGauge) -> Self {
        let mut registry = Registry::with_prefix("statusgate");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests answered, by transport, operation and outcome",
            requests.clone(),
        );
        let latency = LatencyFamily::new_with_constructor(latency_histogram);
        registry.register(
            "request_duration_seconds",
            "Time to answer a request, by transport and operation",
            latency.clone(),
        );
        let in_flight = Family::<TransportLabels, Gauge>::default();
        registry.register(
            "in_flight_requests",
            "Requests being answered now (a stream until its first answer), by transport",
            in_flight.clone(),
        );
        let in_flight = Transport::ALL.map(|transport| {
            in_flight
                .get_or_create(&TransportLabels {
                    transport: transport.as_str(),
                })
                .clone()
        });
        let pool_connections = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "database_pool_connections",
            "Database connections of this process, in use or idle",
            pool_connections.clone(),
        );
        let purged = Family::<PurgeLabels, Counter>::default();
        registry.register(
            "purged_records",
            "Expired records deleted by the background purge",
            purged.clone(),
        );
        // Exposed at 0 from the start, not only after the first purge pass
        // (which runs one interval after start).
        for record in ["requests", "change_tokens"] {
            drop(purged.get_or_create(&PurgeLabels { record }));
        }
        Self {
            registry: Mutex::new(registry),
            pool_gauge,
            requests,
            latency,
            in_flight,
            pool_connections,
            purged,
        }
    }

    /// Counts a request in flight until the guard is dropped.
    pub fn begin_request(&self, transport: Transport) -> InFlight {
        let gauge = self.in_flight[transport.index()].clone();
        gauge.inc();
        InFlight(gauge)
    }

    /// Counts one request; `operation` is a served operation's name or
    /// [`UNKNOWN_OPERATION`].
    pub fn observe_request(
        &self,
        transport: Transport,
        operation: &'static str,
        outcome: Outcome,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                transport: transport.as_str(),
                operation,
                outcome: outcome.as_str(),
            })
            .inc();
        self.latency
            .get_or_create(&OperationLabels {
                transport: transport.as_str(),
                operation,
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_purge(&self, requests: u64, change_tokens: u64) {
        self.purged
            .get_or_create(&PurgeLabels { record: "requests" })
            .inc_by(requests);
        self.purged
            .get_or_create(&PurgeLabels {
                record: "change_tokens",
            })
            .inc_by(change_tokens);
    }

    /// The Prometheus text exposition, with the pool gauges read now.
    pub fn render(&self) -> String {
        let (pool_in_use, pool_idle) = (self.pool_gauge)();
        self.pool_connections
            .get_or_create(&PoolLabels { state: "in_use" })
            .set(i64::from(pool_in_use));
        self.pool_connections
            .get_or_create(&PoolLabels { state: "idle" })
            .set(i64::from(pool_idle));
        let mut text = String::new();
        let registry = self
            .registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        prometheus_client::encoding::text::encode(&mut text, &registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_requests_are_counted_until_answered() {
        let metrics = Metrics::new(Box::new(|| (0, 0)));
        let text = metrics.render();
        assert!(
            text.contains(r#"statusgate_in_flight_requests{transport="rest"} 0"#),
            "{text}"
        );
        let first = metrics.begin_request(Transport::Grpc);
        let second = metrics.begin_request(Transport::Grpc);
        assert!(
            metrics
                .render()
                .contains(r#"statusgate_in_flight_requests{transport="grpc"} 2"#)
        );
        drop(first);
        drop(second);
        assert!(
            metrics
                .render()
                .contains(r#"statusgate_in_flight_requests{transport="grpc"} 0"#)
        );
    }

    #[test]
    fn renders_counts_by_transport_operation_and_outcome() {
        let metrics = Metrics::new(Box::new(|| (2, 5)));
        metrics.observe_request(
            Transport::Grpc,
            "GetChangeToken",
            Outcome::Ok,
            Duration::from_millis(2),
        );
        metrics.observe_request(
            Transport::Grpc,
            "GetChangeToken",
            Outcome::Ok,
            Duration::from_millis(3),
        );
        metrics.observe_request(
            Transport::Http,
            "GetChangeToken",
            Outcome::ClientError,
            Duration::from_millis(1),
        );
        metrics.observe_purge(3, 1);
        let text = metrics.render();
        assert!(text.contains(r#"statusgate_requests_total{transport="grpc",operation="GetChangeToken",outcome="ok"} 2"#), "{text}");
        assert!(text.contains(r#"statusgate_requests_total{transport="http",operation="GetChangeToken",outcome="client_error"} 1"#), "{text}");
        assert!(text.contains(r#"statusgate_request_duration_seconds_count{transport="grpc",operation="GetChangeToken"} 2"#), "{text}");
        assert!(
            text.contains(r#"statusgate_database_pool_connections{state="in_use"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"statusgate_purged_records_total{record="requests"} 3"#),
            "{text}"
        );
    }
}
