//! Test support: a fresh database per test (an SQLite file in a temporary
//! directory, or a new Postgres database on `TEST_DATABASE_URL`), and the real
//! application started on it on ephemeral ports.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use statusgate::app::Application;
use statusgate::config::Config;
use statusgate::domain::{Clock, SystemClock};
use statusgate::grpc::proto::change_token_service_client::ChangeTokenServiceClient;
use statusgate::grpc::proto::resource_request_service_client::ResourceRequestServiceClient;
use tonic::transport::Channel;

pub mod clock;
pub mod proxy;

pub const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The server that administers test databases.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

async fn admin_connection() -> sqlx::PgConnection {
    let url = postgres_admin_url();
    match tokio::time::timeout(Duration::from_secs(10), sqlx::PgConnection::connect(&url)).await {
        Ok(Ok(connection)) => connection,
        Ok(Err(error)) => panic!(
            "Postgres is not reachable at {url}: {error}. Start one with `docker compose up -d postgres` \
             (or `pg_ctlcluster 15 main start` on Debian), or point TEST_DATABASE_URL at a running server."
        ),
        Err(_) => panic!(
            "Postgres at {url} did not answer within 10 s. Start one with `docker compose up -d postgres`, \
             or point TEST_DATABASE_URL at a running server."
        ),
    }
}

/// A database that exists for one test and is dropped after it.
pub struct TestDatabase {
    url: String,
    backend: Backend,
    postgres_name: Option<String>,
    _directory: Option<tempfile::TempDir>,
}

impl TestDatabase {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let directory = tempfile::tempdir().expect("temporary directory");
                let url = format!(
                    "sqlite://{}",
                    directory.path().join("statusgate.db").display()
                );
                Self {
                    url,
                    backend,
                    postgres_name: None,
                    _directory: Some(directory),
                }
            }
            Backend::Postgres => {
                let name = format!("statusgate_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = admin_connection().await;
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .await
                    .expect("create the test database");
                let _ = admin.close().await;
                let mut url =
                    url::Url::parse(&postgres_admin_url()).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    backend,
                    postgres_name: Some(name),
                    _directory: None,
                }
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.postgres_name.take() else {
            return;
        };
        // Drop runs inside the test's runtime; do the async cleanup on a
        // thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
                    .await
                    .ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut admin)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// A running application on its own fresh database.
pub struct TestApp {
    pub app: Option<Application>,
    pub database: Arc<TestDatabase>,
    grpc_address: std::net::SocketAddr,
    http_address: std::net::SocketAddr,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        let database = Arc::new(TestDatabase::new(backend).await);
        Self::spawn_on(database).await
    }

    /// Another server on the same database (replicas).
    pub async fn spawn_on(database: Arc<TestDatabase>) -> Self {
        Self::spawn_with(database, Arc::new(SystemClock), |_| {}).await
    }

    pub async fn spawn_with(
        database: Arc<TestDatabase>,
        clock: Arc<dyn Clock>,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::for_database(database.url());
        adjust(&mut config);
        let app = Application::start_with_clock(config, clock)
            .await
            .expect("the application starts");
        Self {
            grpc_address: app.grpc_address(),
            http_address: app.http_address(),
            app: Some(app),
            database,
        }
    }

    pub fn grpc_endpoint(&self) -> String {
        format!("http://{}", self.grpc_address)
    }

    /// `http://127.0.0.1:PORT`, for AWS SDK `endpoint_url` and raw HTTP.
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.http_address)
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.grpc_endpoint())
            .expect("endpoint")
            .connect()
            .await
            .expect("connect to the gRPC listener")
    }

    pub async fn change_tokens(&self) -> ChangeTokenServiceClient<Channel> {
        ChangeTokenServiceClient::new(self.channel().await)
    }

    pub async fn resource_requests(&self) -> ResourceRequestServiceClient<Channel> {
        ResourceRequestServiceClient::new(self.channel().await)
    }

    pub fn application(&self) -> &Application {
        self.app.as_ref().expect("running")
    }

    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            app.shutdown().await;
        }
    }
}

/// Writes `mod sqlite` and `mod postgres`, each with one `#[tokio::test]` per
/// listed `async fn name(backend: Backend)` of the calling module.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}
