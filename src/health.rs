//! Health: whether this process can do its job, for load balancers and
//! orchestrators. A background loop pings the database; the answer drives the
//! standard `grpc.health.v1.Health` service (tonic-health) and the HTTP
//! `/readyz` endpoint. During shutdown everything reports NOT_SERVING.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::store::Store;

/// The gRPC service names whose health is reported ("" is the whole server).
const SERVICE_NAMES: [&str; 3] = [
    "",
    "statusgate.v1.ChangeTokenService",
    "statusgate.v1.ResourceRequestService",
];

pub struct Health {
    reporter: HealthReporter,
    ready: AtomicBool,
    shutting_down: AtomicBool,
}

impl Health {
    /// The health state and the gRPC service that reports it.
    pub fn new() -> (
        Arc<Self>,
        tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
    ) {
        let (reporter, service) = tonic_health::server::health_reporter();
        let health = Arc::new(Self {
            reporter,
            // Start-up has just connected to and migrated the database.
            ready: AtomicBool::new(true),
            shutting_down: AtomicBool::new(false),
        });
        (health, service)
    }

    /// Whether the database answered the last check and we are not stopping.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst) && !self.shutting_down.load(Ordering::SeqCst)
    }

    async fn report(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in SERVICE_NAMES {
            self.reporter.set_service_status(name, status).await;
        }
    }

    async fn set_database_reachable(&self, reachable: bool) {
        let was = self.ready.swap(reachable, Ordering::SeqCst);
        if self.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        if was != reachable {
            if reachable {
                tracing::info!("database reachable: serving");
            } else {
                tracing::warn!("database unreachable: not serving");
            }
        }
        self.report(reachable).await;
    }

    /// From now on everything reports NOT_SERVING.
    pub async fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.report(false).await;
    }

    /// Pings the database every `interval` until `stop`; a ping that takes
    /// longer than the interval counts as unreachable.
    pub async fn watch_database(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        interval: Duration,
        stop: CancellationToken,
    ) {
        loop {
            let reachable = store.ping(interval).await.is_ok();
            self.set_database_reachable(reachable).await;
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}
