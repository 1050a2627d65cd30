//! The SQLite store: the embedded default, so that `cargo run` works with
//! nothing else installed. One file, WAL journal, `synchronous = FULL` (an
//! acknowledged write survives power loss). SQLite admits one writer at a
//! time, so every write goes through a pool of exactly one connection:
//! concurrent writers queue in-process (fairly, bounded by the acquire
//! timeout) instead of sleeping in SQLite's busy handler or failing with
//! `database is locked`, while reads run in parallel on the other pool.
//! Write transactions still say `BEGIN IMMEDIATE`, so that another process
//! on the same file (`statusgate migrate`) cannot upgrade-deadlock them.
//!
//! This file owns the two pools: opening, migrating, pinging and closing,
//! and the in-process notifications: each write that a watcher waits for
//! wakes its subscribers right after it commits. A watcher in another process
//! on the same file is not woken (serve watchers from the process that
//! writes, or use Postgres). `change_tokens.rs`, `resource_requests.rs` and
//! `leases.rs` implement the store traits of the same names, with their SQL
//! written out; `errors.rs` classifies SQLite result codes.

mod change_tokens;
mod credentials;
mod errors;
mod hooks;
mod leases;
mod resource_requests;
mod resources;
mod simulation_rules;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, SqlitePool, Transaction};

use self::errors::classify;
use crate::store::error::StoreError;
use crate::store::maintenance::{Availability, PoolConnections, StoreMaintenance};
use crate::store::notifications::{FanOut, Notifications, Subscription, Topic};

/// How long a writer waits for the write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct SqliteStore {
    /// Readers.
    pool: SqlitePool,
    /// The one writer connection.
    writer: SqlitePool,
    availability: Availability,
    /// Notified after each commit that a watcher waits for.
    fan_out: Arc<FanOut>,
}

impl SqliteStore {
    /// Opens (creating the file if needed) and applies `migrations/sqlite`.
    pub async fn connect_and_migrate(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|error| StoreError::Internal(error.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(classify)?;
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(BUSY_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(classify)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Internal(format!("migration failed: {error}")))?;
        Ok(Self {
            pool,
            writer,
            availability: Availability::default(),
            fan_out: Arc::new(FanOut::default()),
        })
    }

    /// A write transaction on the writer connection, holding SQLite's write
    /// lock from its first statement on.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(classify)
    }

    /// Runs a single-statement write on the writer connection; returns how many
    /// rows it changed.
    async fn write<'q>(
        &self,
        statement: Query<'q, Sqlite, SqliteArguments<'q>>,
    ) -> Result<u64, StoreError> {
        let done = statement.execute(&self.writer).await.map_err(classify)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl StoreMaintenance for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self, within: Duration) -> Result<(), StoreError> {
        let query = sqlx::query("SELECT 1").execute(&self.pool);
        let answered = match tokio::time::timeout(within, query).await {
            Ok(executed) => executed.map(|_| ()).map_err(classify),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {within:?}"
            ))),
        };
        self.availability.record_ping(answered.is_ok());
        answered
    }

    fn pool_connections(&self) -> PoolConnections {
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        PoolConnections {
            in_use: self.pool.size().saturating_sub(idle),
            idle,
        }
    }

    async fn close(&self) {
        self.pool.close().await;
        self.writer.close().await;
    }
}

impl Notifications for SqliteStore {
    fn subscribe(&self, topic: Topic) -> Subscription {
        self.fan_out.subscribe(topic)
    }
}

/// A list filter as the JSON array that `json_each` reads.
pub(super) fn json_list(names: &[&'static str]) -> String {
    serde_json::to_string(names).expect("a list of strings serialises")
}
