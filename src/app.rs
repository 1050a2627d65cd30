//! Wiring: opens the store named by the database URL (the only place that
//! names a concrete backend), builds the services, serves gRPC and HTTP on
//! the listeners of `net` (connection cap, TLS, timeouts), and starts the
//! background jobs (`jobs`) until asked to stop.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::config::{AuthMode, Config};
use crate::domain::{Clock, SystemClock};
use crate::health::Health;
use crate::jobs::{purge, simulation};
use crate::metrics::Metrics;
use crate::net::{self, Acceptor, ConnectionLimits, ReloadableTls, TlsSettings};
use crate::service::Services;
use crate::store::{PostgresStore, SqliteStore, Store};
use crate::{grpc, http, rest};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// A configuration that must not start (no `--auth` on a non-loopback
    /// address, an unreadable credentials key, ...).
    #[error("{0}")]
    Config(String),
    #[error("unsupported database URL {0:?}: expected postgres://... or sqlite://...")]
    UnsupportedDatabaseUrl(String),
    #[error("cannot open database {url}: {cause}")]
    Database { url: String, cause: String },
    #[error("cannot listen for {listener} on {address}: {cause}")]
    Bind {
        listener: &'static str,
        address: SocketAddr,
        cause: std::io::Error,
    },
    #[error("cannot set up TLS for the {listener} listener: {cause}")]
    Tls {
        listener: &'static str,
        cause: net::TlsError,
    },
    #[error("{listener} server failed: {cause}")]
    Serve {
        listener: &'static str,
        cause: String,
    },
}

/// The URL without its password, for logs and errors.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Opens and migrates the database named by `config.database_url`.
pub async fn open_store(config: &Config) -> Result<Arc<dyn Store>, StartupError> {
    let url = config.database_url.as_str();
    let max_connections = config.database_max_connections;
    let opened = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        PostgresStore::connect_and_migrate(url, max_connections)
            .await
            .map(|store| Arc::new(store) as Arc<dyn Store>)
    } else if url.starts_with("sqlite:") {
        SqliteStore::connect_and_migrate(url, max_connections)
            .await
            .map(|store| Arc::new(store) as Arc<dyn Store>)
    } else {
        return Err(StartupError::UnsupportedDatabaseUrl(redact(url)));
    };
    opened.map_err(|error| StartupError::Database {
        url: redact(url),
        cause: error.to_string(),
    })
}

/// `--simulation-rules FILE`: the file's rules replace the stored ones (an
/// unreadable or invalid file stops the start).
async fn load_simulation_rules(
    services: &Services,
    path: &std::path::Path,
) -> Result<(), StartupError> {
    let document = std::fs::read_to_string(path).map_err(|error| {
        StartupError::Config(format!(
            "cannot read the simulation rules {}: {error}",
            path.display()
        ))
    })?;
    let count = services
        .simulation
        .set_rules(&document)
        .await
        .map_err(|error| {
            StartupError::Config(format!(
                "simulation rules {}: {}",
                path.display(),
                error.message
            ))
        })?;
    tracing::info!(rules = count, file = %path.display(), "simulation rules loaded");
    Ok(())
}

/// `statusgate migrate`: applies the migrations and closes the pool.
pub async fn migrate(config: &Config) -> Result<(), StartupError> {
    let store = open_store(config).await?;
    tracing::info!(backend = store.backend(), database = %redact(&config.database_url), "migrations applied");
    store.close().await;
    Ok(())
}

/// A running statusgate: both listeners and the background tasks.
pub struct Application {
    grpc_address: SocketAddr,
    http_address: SocketAddr,
    services: Services,
    store: Arc<dyn Store>,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown_grace: Duration,
    /// Cancelled to stop accepting and start draining.
    stop: CancellationToken,
    /// The two listeners; shutdown waits for them (bounded by the grace).
    servers: JoinSet<Result<(), StartupError>>,
    /// Purge, health checks, simulation; stopped with `stop`.
    background: JoinSet<()>,
    tls: TlsReloader,
}

async fn bind(
    listener: &'static str,
    address: SocketAddr,
    max_connections: usize,
) -> Result<(Acceptor, SocketAddr), StartupError> {
    let bind_error = |cause| StartupError::Bind {
        listener,
        address,
        cause,
    };
    let acceptor = Acceptor::bind(listener, address, max_connections)
        .await
        .map_err(bind_error)?;
    let local = acceptor.local_addr().map_err(bind_error)?;
    Ok((acceptor, local))
}

/// The TLS of each listener (gRPC, HTTP) when `--tls-cert` is given: the
/// same certificate on both, ALPN for what each speaks, and on gRPC the
/// client CA of `--grpc-client-ca` (mutual TLS).
type ListenerTls = (Option<Arc<ReloadableTls>>, Option<Arc<ReloadableTls>>);

fn listener_tls(config: &Config) -> Result<ListenerTls, StartupError> {
    let (Some(certificate_chain), Some(private_key)) = (&config.tls_cert, &config.tls_key) else {
        return Ok((None, None));
    };
    let settings = |client_ca: Option<std::path::PathBuf>, alpn: &[&[u8]]| TlsSettings {
        certificate_chain: certificate_chain.clone(),
        private_key: private_key.clone(),
        client_ca,
        alpn: alpn.iter().map(|protocol| protocol.to_vec()).collect(),
    };
    let load = |listener: &'static str, settings: TlsSettings| {
        ReloadableTls::load(settings)
            .map(Arc::new)
            .map_err(|cause| StartupError::Tls { listener, cause })
    };
    let grpc = load("gRPC", settings(config.grpc_client_ca.clone(), &[b"h2"]))?;
    let http = load("HTTP", settings(None, &[b"h2", b"http/1.1"]))?;
    Ok((Some(grpc), Some(http)))
}

/// Reloads the listeners' TLS files (on SIGHUP); cheap to clone.
#[derive(Clone, Default)]
pub struct TlsReloader {
    listeners: Vec<(&'static str, Arc<ReloadableTls>)>,
}

impl TlsReloader {
    /// Reads every listener's certificate, key and client CA again. New
    /// connections get them; open connections are kept. A listener whose
    /// files fail to load keeps the ones in force.
    pub fn reload(&self) {
        if self.listeners.is_empty() {
            tracing::info!("SIGHUP: no TLS configured, nothing to reload");
        }
        for (listener, tls) in &self.listeners {
            match tls.reload() {
                Ok(()) => tracing::info!(listener, "TLS certificates reloaded"),
                Err(error) => tracing::warn!(
                    listener,
                    %error,
                    "TLS certificates not reloaded; keeping the ones in force"
                ),
            }
        }
    }
}

impl Application {
    pub async fn start(config: Config) -> Result<Self, StartupError> {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Starts with an injected clock (tests drive expiry with it).
    pub async fn start_with_clock(
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StartupError> {
        let auth = config.auth_mode().map_err(StartupError::Config)?;
        let credentials_key = config.credentials_key().map_err(StartupError::Config)?;
        if auth == AuthMode::Sigv4 && credentials_key.is_none() {
            return Err(StartupError::Config(
                "--auth sigv4 needs the credentials key: set --credentials-key-file or STATUSGATE_CREDENTIALS_KEY".into(),
            ));
        }
        let store = open_store(&config).await?;
        let (grpc_tls, http_tls) = listener_tls(&config)?;
        let (grpc_acceptor, grpc_address) =
            bind("gRPC", config.grpc_listen, config.max_connections).await?;
        let (http_acceptor, http_address) =
            bind("HTTP", config.http_listen, config.max_connections).await?;
        let limits = ConnectionLimits {
            header_timeout: config.http_header_timeout,
            idle_timeout: config.http_idle_timeout,
            max_header_bytes: usize::try_from(config.http_max_header_bytes).unwrap_or(usize::MAX),
            keepalive_interval: config.http2_keepalive_interval,
            keepalive_timeout: config.http2_keepalive_timeout,
        };
        let tls = TlsReloader {
            listeners: [("gRPC", grpc_tls.clone()), ("HTTP", http_tls.clone())]
                .into_iter()
                .filter_map(|(listener, tls)| Some((listener, tls?)))
                .collect(),
        };

        let stop = CancellationToken::new();
        let services = Services::new(
            store.clone(),
            clock.clone(),
            config.default_account.clone(),
            crate::service::CloudControlSettings {
                default_region: config.default_region.clone(),
                known_types_only: config.known_types_only,
            },
            config.request_retention,
            credentials_key,
        )
        .with_watch_limits(
            crate::service::max_wait_within(config.request_timeout),
            stop.clone(),
        );
        if let Some(path) = &config.simulation_rules {
            load_simulation_rules(&services, path).await?;
        }
        let pool_store = store.clone();
        let metrics = Arc::new(Metrics::new(Box::new(move || {
            let connections = pool_store.pool_connections();
            (connections.in_use, connections.idle)
        })));
        let (health, health_service) = Health::new();
        let mut servers = JoinSet::new();
        let mut background = JoinSet::new();

        // Both protocol versions: Postman, Evans, grpcui and older grpcurl
        // speak only v1alpha.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(grpc::proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_error = |error: tonic_reflection::server::Error| StartupError::Serve {
            listener: "gRPC",
            cause: format!("reflection: {error}"),
        };
        let reflection_service = reflection().build_v1().map_err(reflection_error)?;
        let reflection_v1alpha_service = reflection().build_v1alpha().map_err(reflection_error)?;
        let grpc_server = tonic::transport::Server::builder()
            .timeout(config.request_timeout)
            .http2_keepalive_interval(Some(limits.keepalive_interval))
            .http2_keepalive_timeout(Some(limits.keepalive_timeout))
            .layer(net::TrackRequestsLayer)
            .layer(grpc::layer(
                metrics.clone(),
                config.max_in_flight,
                config.http_body_timeout,
            ))
            .layer(grpc::AuthLayer::new(auth, services.credentials.clone()))
            .add_routes(grpc::routes(&services, &config.default_account))
            .add_service(health_service)
            .add_service(reflection_service)
            .add_service(reflection_v1alpha_service);
        let grpc_stop = stop.clone();
        servers.spawn(async move {
            grpc_server
                .serve_with_incoming_shutdown(
                    net::incoming(grpc_acceptor, grpc_tls, limits),
                    grpc_stop.cancelled_owned(),
                )
                .await
                .map_err(|error| StartupError::Serve {
                    listener: "gRPC",
                    cause: error.to_string(),
                })
        });

        // The REST gateway calls the gRPC stack in-process: the same layers
        // as the gRPC listener (its own in-flight limit), the same services.
        let rest_stack = tower::util::BoxCloneSyncService::new(
            tower::ServiceBuilder::new()
                .layer(grpc::layer(
                    metrics.clone(),
                    config.max_in_flight,
                    config.http_body_timeout,
                ))
                .layer(grpc::AuthLayer::new(auth, services.credentials.clone()))
                .service(grpc::routes(&services, &config.default_account)),
        );
        let gateway = rest::Gateway::new(
            rest_stack,
            rest::GatewayLimits {
                request_timeout: config.request_timeout,
                body_timeout: config.http_body_timeout,
                max_body_bytes: http::MAX_BODY_BYTES,
            },
        )
        .map_err(|error| StartupError::Config(format!("REST gateway: {error}")))?;
        let http_router = http::router(
            http::HttpState {
                services: services.clone(),
                metrics: metrics.clone(),
                health: health.clone(),
                request_timeout: config.request_timeout,
                max_in_flight: config.max_in_flight,
                body_timeout: config.http_body_timeout,
                auth,
                clock: clock.clone(),
            },
            gateway.router(),
        );
        servers.spawn(
            net::serve_http(http_acceptor, http_tls, http_router, limits, stop.clone()).map(Ok),
        );

        background.spawn(health.clone().watch_database(
            store.clone(),
            config.health_interval,
            stop.clone(),
        ));
        background.spawn(purge::purge_periodically(
            services.clone(),
            metrics.clone(),
            config.purge_interval,
            stop.clone(),
        ));
        if let Some(delay) = config.simulate_propagation {
            background.spawn(simulation::propagate_change_tokens(
                services.clone(),
                delay,
                stop.clone(),
            ));
        }
        if let Some(delay) = config.simulate_provisioning {
            background.spawn(simulation::provision_resource_requests(
                services.clone(),
                clock.clone(),
                delay,
                stop.clone(),
            ));
        }

        tracing::info!(
            grpc = %grpc_address,
            http = %http_address,
            tls = !tls.listeners.is_empty(),
            backend = store.backend(),
            database = %redact(&config.database_url),
            auth = ?auth,
            "statusgate listening"
        );
        Ok(Self {
            grpc_address,
            http_address,
            services,
            store,
            health,
            metrics,
            shutdown_grace: config.shutdown_grace,
            stop,
            servers,
            background,
            tls,
        })
    }

    /// Reloads the listeners' TLS files; what `statusgate` does on SIGHUP.
    pub fn tls_reloader(&self) -> TlsReloader {
        self.tls.clone()
    }

    pub fn grpc_address(&self) -> SocketAddr {
        self.grpc_address
    }

    pub fn http_address(&self) -> SocketAddr {
        self.http_address
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Serves until `signal` completes or a listener fails, then shuts down.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), StartupError> {
        let outcome = tokio::select! {
            () = signal => {
                tracing::info!(grace = ?self.shutdown_grace, "shutting down");
                Ok(())
            }
            Some(ended) = self.servers.join_next() => match ended {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(error),
                Err(join_error) => Err(StartupError::Serve { listener: "task", cause: join_error.to_string() }),
            },
        };
        self.shutdown().await;
        outcome
    }

    /// Reports NOT_SERVING, stops accepting, lets in-flight requests finish
    /// (for at most the shutdown grace), stops the background tasks and
    /// closes the pool.
    pub async fn shutdown(mut self) {
        self.health.begin_shutdown().await;
        self.stop.cancel();
        let drained = tokio::time::timeout(self.shutdown_grace, async {
            while self.servers.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(grace = ?self.shutdown_grace, "in-flight requests did not finish within the grace; abandoning them");
            self.servers.shutdown().await;
        }
        while self.background.join_next().await.is_some() {}
        self.store.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/statusgate"),
            "postgres://app:***@db:5432/statusgate"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(redact("sqlite://statusgate.db"), "sqlite://statusgate.db");
    }
}
