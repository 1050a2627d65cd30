//! A database per test: an SQLite file in a temporary directory, or a new
//! Postgres database on the server at `TEST_DATABASE_URL` (default: the
//! local one with trust auth), dropped when the test is done with it.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;
use statusgate::app::open_store;
use statusgate::config::Config;
use statusgate::store::Store;

const DEFAULT_TEST_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The server that administers test databases.
fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_TEST_DATABASE_URL.to_owned())
}

/// A connection to the Postgres server that holds the test databases.
pub async fn admin_connection() -> sqlx::PgConnection {
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

/// Runs one statement on the Postgres server that holds the test databases
/// (`CREATE DATABASE`, `ALTER DATABASE`, `pg_terminate_backend`, ...).
pub async fn administer(statement: &str) {
    let mut admin = admin_connection().await;
    sqlx::query(statement)
        .execute(&mut admin)
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
    let _ = admin.close().await;
}

/// A database that exists for one test and is dropped after it.
pub struct TestDatabase {
    url: String,
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
                    postgres_name: None,
                    _directory: Some(directory),
                }
            }
            Backend::Postgres => {
                let name = format!("statusgate_test_{}", uuid::Uuid::new_v4().simple());
                administer(&format!("CREATE DATABASE \"{name}\"")).await;
                let mut url =
                    url::Url::parse(&postgres_admin_url()).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&name);
                Self {
                    url: url.to_string(),
                    postgres_name: Some(name),
                    _directory: None,
                }
            }
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name on the Postgres server; `None` for SQLite.
    pub fn postgres_name(&self) -> Option<&str> {
        self.postgres_name.as_deref()
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

/// The store alone (no server) on a fresh database, migrated. Keep the
/// database for as long as the store is used.
pub async fn open_test_store(backend: Backend) -> (Arc<dyn Store>, TestDatabase) {
    let database = TestDatabase::new(backend).await;
    let store = open_store(&Config::for_database(database.url()))
        .await
        .expect("open the store");
    (store, database)
}
