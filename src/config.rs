//! Command-line and environment configuration. Every flag can also be set
//! through the environment variable named beside it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::domain::AccountId;
use crate::domain::values::Region;
use crate::service::CredentialsKey;

/// The embedded default: an SQLite file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://statusgate.db";

/// The default and least `--http-max-header-bytes`: hyper's own floor for
/// its HTTP/1 read buffer, and what nginx and Apache allow a header line by
/// default.
pub const MIN_HTTP_HEADER_BYTES: u64 = 8192;

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
    /// Manage the credentials callers sign with (`--auth sigv4`).
    #[command(subcommand)]
    Credentials(CredentialsCommand),
}

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Issue a credential and print it once, as JSON with its secret.
    Create {
        /// The account it acts as (12 digits).
        #[arg(long, value_parser = parse_account, required_unless_present = "all_accounts", conflicts_with = "all_accounts")]
        account: Option<AccountId>,
        /// Bind it to every account instead (workers and admins only).
        #[arg(long)]
        all_accounts: bool,
        /// `client` (what an AWS caller calls), `worker` (also the worker
        /// RPCs) or `admin` (also credential management).
        #[arg(long)]
        role: String,
    },
    /// List every credential, without secrets, as JSON lines.
    List,
    /// Revoke a credential: every replica refuses it within seconds.
    Revoke {
        /// The access key id.
        access_key_id: String,
    },
}

/// Whether callers must sign their calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Verify every call: SigV4 on the AWS facade, `Bearer` keys on gRPC.
    Sigv4,
    /// Trust every caller (local development): the access key id names the
    /// account.
    None,
}

/// The credentials key as given in the environment; never printed.
#[derive(Clone)]
pub struct KeyText(pub String);

impl std::fmt::Debug for KeyText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("KeyText(<redacted>)")
    }
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

    /// Region of callers that name none: an unsigned facade request, or a
    /// gRPC request with an empty `region` (Cloud Control and WAF Regional).
    #[arg(long, env = "STATUSGATE_DEFAULT_REGION", default_value = "us-east-1", value_parser = parse_region, global = true)]
    pub default_region: Region,

    /// Refuse Cloud Control type names the resource type table lacks
    /// (`TypeNotFoundException`). Off by default: teams run private types.
    #[arg(long, env = "STATUSGATE_KNOWN_TYPES_ONLY", global = true)]
    pub known_types_only: bool,

    /// A JSON file of simulation rules (which simulated requests fail, take
    /// longer, report a RetryAfter); replaces the stored rules at start.
    #[arg(long, env = "STATUSGATE_SIMULATION_RULES", global = true)]
    pub simulation_rules: Option<PathBuf>,

    /// How long requests (and INSYNC change tokens) stay visible, e.g. `7d`, `36h`.
    #[arg(long, env = "STATUSGATE_REQUEST_RETENTION", default_value = "7d", value_parser = parse_duration, global = true)]
    pub request_retention: Duration,

    /// How often expired records are purged.
    #[arg(long, env = "STATUSGATE_PURGE_INTERVAL", default_value = "1m", value_parser = parse_duration, global = true)]
    pub purge_interval: Duration,

    /// Most database connections this process opens (besides the one it
    /// listens for notifications on): a quarter, at least one, are kept by
    /// the Postgres status reads, the pool has the rest.
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

    /// `sigv4` or `none`. Without it, `none` while every listener is on a
    /// loopback address; on any other address the server refuses to start.
    #[arg(long, env = "STATUSGATE_AUTH", value_enum, global = true)]
    pub auth: Option<AuthMode>,

    /// A file holding the credentials key: 32 random bytes, base64
    /// (`head -c 32 /dev/urandom | base64`). Needed for `--auth sigv4` and
    /// `credentials create`.
    #[arg(long, env = "STATUSGATE_CREDENTIALS_KEY_FILE", global = true)]
    pub credentials_key_file: Option<PathBuf>,

    /// The credentials key itself (base64), when no file is given. Only from
    /// the environment: a command line is visible to every local user.
    #[arg(skip = std::env::var("STATUSGATE_CREDENTIALS_KEY").ok().map(KeyText))]
    pub credentials_key: Option<KeyText>,

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

    /// Longest HTTP/1 request line and headers, in bytes (at least 8192);
    /// longer ones get 431 from hyper. It is also what each HTTP/1
    /// connection's read buffer may grow to: above 8192 that buffer grows to
    /// 16 KiB at the first request, 12 KiB more per idle connection.
    #[arg(long, env = "STATUSGATE_HTTP_MAX_HEADER_BYTES", default_value_t = MIN_HTTP_HEADER_BYTES, value_parser = clap::value_parser!(u64).range(MIN_HTTP_HEADER_BYTES..), global = true)]
    pub http_max_header_bytes: u64,

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

fn parse_region(value: &str) -> Result<Region, String> {
    Region::parse(value).map_err(|_| format!("{value:?} is not a region name (like us-east-1)"))
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
            default_region: Region::parse("us-east-1").expect("valid region"),
            known_types_only: false,
            simulation_rules: None,
            request_retention: Duration::from_secs(7 * 24 * 3600),
            purge_interval: Duration::from_secs(60),
            database_max_connections: 16,
            shutdown_grace: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_in_flight: 1024,
            health_interval: Duration::from_secs(1),
            simulate_propagation: None,
            simulate_provisioning: None,
            auth: None,
            credentials_key_file: None,
            credentials_key: None,
            tls_cert: None,
            tls_key: None,
            grpc_client_ca: None,
            max_connections: 10_000,
            http_header_timeout: Duration::from_secs(10),
            http_body_timeout: Duration::from_secs(5),
            http_max_header_bytes: MIN_HTTP_HEADER_BYTES,
            http_idle_timeout: Duration::from_secs(60),
            http2_keepalive_interval: Duration::from_secs(20),
            http2_keepalive_timeout: Duration::from_secs(10),
        }
    }

    /// The authentication mode in force: the one given, else `none` while
    /// every listener is on a loopback address. Refuses to guess for a
    /// server reachable from other hosts.
    pub fn auth_mode(&self) -> Result<AuthMode, String> {
        if let Some(mode) = self.auth {
            return Ok(mode);
        }
        for (name, address) in [
            ("--grpc-listen", self.grpc_listen),
            ("--http-listen", self.http_listen),
        ] {
            if !address.ip().is_loopback() {
                return Err(format!(
                    "{name} {address} is not a loopback address: say --auth sigv4 (verify every call) or --auth none (trust every caller) explicitly"
                ));
            }
        }
        Ok(AuthMode::None)
    }

    /// The credentials key, from `--credentials-key-file` or else
    /// `STATUSGATE_CREDENTIALS_KEY`; `None` when neither is given.
    pub fn credentials_key(&self) -> Result<Option<CredentialsKey>, String> {
        let text = match (&self.credentials_key_file, &self.credentials_key) {
            (Some(path), _) => std::fs::read_to_string(path).map_err(|error| {
                format!(
                    "cannot read the credentials key file {}: {error}",
                    path.display()
                )
            })?,
            (None, Some(KeyText(text))) => text.clone(),
            (None, None) => return Ok(None),
        };
        CredentialsKey::from_base64(&text)
            .map(Some)
            .map_err(|error| error.to_string())
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
        assert_eq!(config.default_region.as_str(), "us-east-1");
        assert!(!config.known_types_only);
        assert!(config.simulation_rules.is_none());
        assert_eq!(config.request_retention, Duration::from_secs(7 * 24 * 3600));
        let for_tests = Config::for_database("sqlite://x.db");
        assert_eq!(config.max_connections, for_tests.max_connections);
        assert_eq!(config.max_connections, 10_000);
        assert_eq!(config.http_header_timeout, for_tests.http_header_timeout);
        assert_eq!(config.http_body_timeout, for_tests.http_body_timeout);
        assert_eq!(config.http_idle_timeout, for_tests.http_idle_timeout);
        assert_eq!(config.http_max_header_bytes, 8192);
        assert_eq!(
            config.http_max_header_bytes,
            for_tests.http_max_header_bytes
        );
        assert!(Cli::try_parse_from(["statusgate", "--http-max-header-bytes", "8191"]).is_err());
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
    fn without_auth_only_loopback_listeners_may_start() {
        let loopback = Cli::try_parse_from(["statusgate"]).unwrap().config;
        assert_eq!(loopback.auth_mode(), Ok(AuthMode::None));
        let exposed = Cli::try_parse_from(["statusgate", "--http-listen", "0.0.0.0:8080"])
            .unwrap()
            .config;
        let refusal = exposed.auth_mode().unwrap_err();
        assert!(
            refusal.contains("--http-listen 0.0.0.0:8080 is not a loopback address"),
            "{refusal}"
        );
        let ipv6 = Cli::try_parse_from(["statusgate", "--grpc-listen", "[::1]:50051"])
            .unwrap()
            .config;
        assert_eq!(ipv6.auth_mode(), Ok(AuthMode::None));
        for (flag, mode) in [("sigv4", AuthMode::Sigv4), ("none", AuthMode::None)] {
            let explicit = Cli::try_parse_from([
                "statusgate",
                "--http-listen",
                "0.0.0.0:8080",
                "--auth",
                flag,
            ])
            .unwrap()
            .config;
            assert_eq!(explicit.auth_mode(), Ok(mode));
        }
        assert!(Cli::try_parse_from(["statusgate", "--auth", "maybe"]).is_err());
    }

    #[test]
    fn credentials_commands_parse() {
        let create = Cli::try_parse_from([
            "statusgate",
            "credentials",
            "create",
            "--account",
            "123456789012",
            "--role",
            "client",
        ])
        .unwrap();
        assert!(matches!(
            create.command,
            Some(Command::Credentials(CredentialsCommand::Create {
                account: Some(_),
                all_accounts: false,
                ..
            }))
        ));
        assert!(
            Cli::try_parse_from(["statusgate", "credentials", "create", "--role", "worker"])
                .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "statusgate",
                "credentials",
                "create",
                "--all-accounts",
                "--account",
                "123456789012",
                "--role",
                "worker",
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "statusgate",
                "credentials",
                "create",
                "--all-accounts",
                "--role",
                "worker"
            ])
            .is_ok()
        );
        assert!(
            Cli::try_parse_from([
                "statusgate",
                "credentials",
                "revoke",
                "SGAKABCDEFGHIJ234567"
            ])
            .is_ok()
        );
        assert!(Cli::try_parse_from(["statusgate", "credentials", "list"]).is_ok());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(Cli::try_parse_from(["statusgate", "--default-account", "12"]).is_err());
        assert!(Cli::try_parse_from(["statusgate", "--default-region", "EU West"]).is_err());
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
