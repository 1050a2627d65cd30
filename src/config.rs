//! Command-line and environment configuration. Every flag can also be set
//! through the environment variable named beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::domain::AccountId;

/// The embedded default: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://statusgate.db";

#[derive(Debug, Parser)]
#[command(
    name = "statusgate",
    version,
    about = "AWS-style change tokens and resource-operation requests over gRPC and the AWS wire protocol"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// `postgres://user@host/db` or `sqlite://path.db`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true)]
    pub database_url: String,

    /// Address of the gRPC listener.
    #[arg(
        long,
        env = "STATUSGATE_GRPC_LISTEN",
        default_value = "127.0.0.1:50051",
        global = true
    )]
    pub grpc_listen: SocketAddr,

    /// Address of the HTTP listener (AWS-compatible facade).
    #[arg(
        long,
        env = "STATUSGATE_HTTP_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub http_listen: SocketAddr,

    /// Account of callers that name none (empty account id, non-numeric access key).
    #[arg(long, env = "STATUSGATE_DEFAULT_ACCOUNT", default_value = "000000000000", value_parser = parse_account, global = true)]
    pub default_account: AccountId,

    /// How long requests (and INSYNC change tokens) stay visible, e.g. `7d`, `36h`.
    #[arg(long, env = "STATUSGATE_REQUEST_RETENTION", default_value = "7d", value_parser = parse_duration, global = true)]
    pub request_retention: Duration,

    /// How often expired records are purged.
    #[arg(long, env = "STATUSGATE_PURGE_INTERVAL", default_value = "1m", value_parser = parse_duration, global = true)]
    pub purge_interval: Duration,

    /// Most database connections this process opens.
    #[arg(
        long,
        env = "STATUSGATE_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    pub database_max_connections: u32,

    /// How long in-flight requests may take to finish after SIGTERM/SIGINT.
    #[arg(long, env = "STATUSGATE_SHUTDOWN_GRACE", default_value = "10s", value_parser = parse_duration, global = true)]
    pub shutdown_grace: Duration,

    /// Longest time one request may take before it is abandoned.
    #[arg(long, env = "STATUSGATE_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration, global = true)]
    pub request_timeout: Duration,

    /// Requests served at once per listener; beyond it requests are shed with
    /// ThrottlingException / RESOURCE_EXHAUSTED rather than queued.
    #[arg(
        long,
        env = "STATUSGATE_MAX_IN_FLIGHT",
        default_value_t = 1024,
        global = true
    )]
    pub max_in_flight: usize,

    /// How often the database is pinged for health.
    #[arg(long, env = "STATUSGATE_HEALTH_INTERVAL", default_value = "1s", value_parser = parse_duration, global = true)]
    pub health_interval: Duration,

    /// Simulation for environments without a real WAF: move PENDING change
    /// tokens to INSYNC this long after they were used.
    #[arg(long, env = "STATUSGATE_SIMULATE_PROPAGATION", value_parser = parse_duration, global = true)]
    pub simulate_propagation: Option<Duration>,

    /// Simulation for environments without a real worker: drive resource
    /// requests PENDING -> IN_PROGRESS -> SUCCESS, each step this long after
    /// the previous event, honouring cancellation.
    #[arg(long, env = "STATUSGATE_SIMULATE_PROVISIONING", value_parser = parse_duration, global = true)]
    pub simulate_provisioning: Option<Duration>,

    /// TLS certificate chain (PEM) served on both listeners; needs --tls-key.
    /// Reloaded, with the key and the client CA, on SIGHUP.
    #[arg(long, env = "STATUSGATE_TLS_CERT", requires = "tls_key", global = true)]
    pub tls_cert: Option<PathBuf>,

    /// Private key (PEM) of --tls-cert.
    #[arg(long, env = "STATUSGATE_TLS_KEY", requires = "tls_cert", global = true)]
    pub tls_key: Option<PathBuf>,

    /// CA certificates (PEM): gRPC clients must present a certificate one of
    /// them signed (mutual TLS). Needs --tls-cert.
    #[arg(
        long,
        env = "STATUSGATE_GRPC_CLIENT_CA",
        requires = "tls_cert",
        global = true
    )]
    pub grpc_client_ca: Option<PathBuf>,

    /// Connections each listener holds at once; beyond it new connections
    /// wait in the kernel's backlog until one closes.
    #[arg(
        long,
        env = "STATUSGATE_MAX_CONNECTIONS",
        default_value_t = 10_000,
        global = true
    )]
    pub max_connections: usize,

    /// Time a connection has for its TLS handshake and its first request, and
    /// an HTTP/1 request for its headers (hyper also closes an HTTP/1
    /// keep-alive connection idle this long).
    #[arg(long, env = "STATUSGATE_HTTP_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_duration, global = true)]
    pub http_header_timeout: Duration,

    /// Time a request's body (HTTP) or first message (gRPC) has to arrive
    /// once its headers are in; it holds no in-flight slot meanwhile.
    #[arg(long, env = "STATUSGATE_HTTP_BODY_TIMEOUT", default_value = "5s", value_parser = parse_duration, global = true)]
    pub http_body_timeout: Duration,

    /// A connection with no request in flight for this long is closed.
    #[arg(long, env = "STATUSGATE_HTTP_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_duration, global = true)]
    pub http_idle_timeout: Duration,

    /// How often HTTP/2 connections (gRPC, and h2 on the facade) are pinged.
    #[arg(long, env = "STATUSGATE_HTTP2_KEEPALIVE_INTERVAL", default_value = "20s", value_parser = parse_duration, global = true)]
    pub http2_keepalive_interval: Duration,

    /// A ping unanswered this long closes its connection.
    #[arg(long, env = "STATUSGATE_HTTP2_KEEPALIVE_TIMEOUT", default_value = "10s", value_parser = parse_duration, global = true)]
    pub http2_keepalive_timeout: Duration,
}

fn parse_account(value: &str) -> Result<AccountId, String> {
    AccountId::parse(value).map_err(|_| format!("{value:?} is not a 12-digit AWS account id"))
}

fn parse_duration(value: &str) -> Result<Duration, String> {
    humantime::parse_duration(value).map_err(|error| error.to_string())
}

impl Config {
    /// The configuration of a server on the given database, listening on
    /// ephemeral loopback ports (what tests and embedders start from).
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            grpc_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            default_account: AccountId::parse("000000000000").expect("valid account"),
            request_retention: Duration::from_secs(7 * 24 * 3600),
            purge_interval: Duration::from_secs(60),
            database_max_connections: 16,
            shutdown_grace: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 1024,
            health_interval: Duration::from_secs(1),
            simulate_propagation: None,
            simulate_provisioning: None,
            tls_cert: None,
            tls_key: None,
            grpc_client_ca: None,
            max_connections: 10_000,
            http_header_timeout: Duration::from_secs(10),
            http_body_timeout: Duration::from_secs(5),
            http_idle_timeout: Duration::from_secs(60),
            http2_keepalive_interval: Duration::from_secs(20),
            http2_keepalive_timeout: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let cli = Cli::try_parse_from(["statusgate"]).unwrap();
        assert!(cli.command.is_none());
        let config = cli.config;
        assert_eq!(config.grpc_listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.default_account.as_str(), "000000000000");
        assert_eq!(config.request_retention, Duration::from_secs(7 * 24 * 3600));
        let for_tests = Config::for_database("sqlite://x.db");
        assert_eq!(config.max_connections, for_tests.max_connections);
        assert_eq!(config.max_connections, 10_000);
        assert_eq!(config.http_header_timeout, for_tests.http_header_timeout);
        assert_eq!(config.http_body_timeout, for_tests.http_body_timeout);
        assert_eq!(config.http_idle_timeout, for_tests.http_idle_timeout);
        assert_eq!(
            config.http2_keepalive_interval,
            for_tests.http2_keepalive_interval
        );
        assert_eq!(
            config.http2_keepalive_timeout,
            for_tests.http2_keepalive_timeout
        );
        assert!(config.tls_cert.is_none() && config.grpc_client_ca.is_none());
    }

    #[test]
    fn tls_needs_both_the_certificate_and_the_key() {
        assert!(Cli::try_parse_from(["statusgate", "--tls-cert", "c.pem"]).is_err());
        assert!(Cli::try_parse_from(["statusgate", "--tls-key", "k.pem"]).is_err());
        assert!(Cli::try_parse_from(["statusgate", "--grpc-client-ca", "ca.pem"]).is_err());
        let tls = Cli::try_parse_from(["statusgate", "--tls-cert", "c.pem", "--tls-key", "k.pem"]);
        assert!(tls.unwrap().config.tls_cert.is_some());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Cli::try_parse_from(["statusgate", "--default-account", "12"]).is_err());
        assert!(Cli::try_parse_from(["statusgate", "--request-retention", "soon"]).is_err());
        assert!(Cli::try_parse_from(["statusgate", "--grpc-listen", "nowhere"]).is_err());
        let migrate =
            Cli::try_parse_from(["statusgate", "migrate", "--request-retention", "36h"]).unwrap();
        assert!(matches!(migrate.command, Some(Command::Migrate)));
        assert_eq!(
            migrate.config.request_retention,
            Duration::from_secs(36 * 3600)
        );
    }
}
