//! The Postgres store: what production runs, several replicas on one
//! database. Hot calls are coalesced across concurrent callers
//! (`coalesced.rs`, `create_group.rs`); errors are classified by SQLSTATE
//! (`errors.rs`). This file owns the pool: connecting, migrating, pinging
//! and closing. `change_tokens.rs`, `resource_requests.rs` and `leases.rs`
//! implement the store traits of the same names, with their SQL written
//! out; `listener.rs` receives the `NOTIFY`s they send.

mod change_tokens;
mod coalesced;
mod create_group;
mod credentials;
mod errors;
mod hooks;
mod leases;
mod listener;
mod read_connections;
mod resource_requests;
mod resources;
mod simulation_rules;

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{Connection, PgConnection, PgPool, Postgres};

use self::coalesced::Coalesced;
use self::errors::classify;
use self::listener::PgNotifications;
use self::read_connections::ReadConnections;
use crate::store::error::StoreError;
use crate::store::maintenance::{Availability, PoolConnections, StoreMaintenance};
use crate::store::notifications::{Notifications, Subscription, Topic};

/// How long a caller waits for a pooled connection before the request fails
/// as unavailable, rather than hanging while the database is away.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection idle this long is pinged before it is handed out.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

pub struct PostgresStore {
    /// Readers and writers alike.
    pool: PgPool,
    availability: Availability,
    coalesced: Coalesced,
    notifications: PgNotifications,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PostgresStore")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects (failing within `ACQUIRE_TIMEOUT` (5 s) when the database is
    /// unreachable) and applies the migrations in `migrations/postgres`.
    pub async fn connect_and_migrate(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse()
            .map_err(|error: sqlx::Error| StoreError::Internal(error.to_string()))?;
        // One direct connection first: the pool would only report "timed
        // out", this reports why (refused, unknown database, bad password).
        let probe = tokio::time::timeout(ACQUIRE_TIMEOUT, PgConnection::connect_with(&options))
            .await
            .map_err(|_| StoreError::Unavailable(format!("no answer within {ACQUIRE_TIMEOUT:?}")))?
            .map_err(classify)?;
        let _ = probe.close().await;
        // sqlx pings every connection it hands out by default: one more
        // round trip to Postgres before every statement.
        // Only a connection idle for a while is pinged (one that has just
        // answered is alive); losing the database is noticed by the health
        // watcher and by the failing statement itself.
        // A quarter of the connections (at least one) are the status
        // reads' own (`read_connections.rs`); the pool has the rest.
        let read_connections = (max_connections / 4).max(1);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.saturating_sub(read_connections).max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|connection, metadata| {
                Box::pin(async move {
                    if metadata.idle_for < PING_WHEN_IDLE_FOR {
                        return Ok(true);
                    }
                    Ok(sqlx::Connection::ping(connection).await.is_ok())
                })
            })
            .connect_with(options.clone())
            .await
            .map_err(classify)?;
        // The migrator takes an advisory lock, so replicas starting together
        // apply each migration once.
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Internal(format!("migration failed: {error}")))?;
        // Half the connections may serve coalesced writes at once; the
        // rest stays for everything else.
        let groups_in_flight = (max_connections / 2).max(1) as usize;
        let reads = ReadConnections::new(&pool, read_connections as usize, PING_WHEN_IDLE_FOR);
        Ok(Self {
            coalesced: Coalesced::new(&pool, &reads, groups_in_flight),
            pool,
            availability: Availability::default(),
            notifications: PgNotifications::new(options),
        })
    }

    /// Runs a single-statement write; returns how many
    /// rows it changed.
    async fn write(&self, statement: Query<'_, Postgres, PgArguments>) -> Result<u64, StoreError> {
        let done = statement.execute(&self.pool).await.map_err(classify)?;
        Ok(done.rows_affected())
    }
}

#[async_trait]
impl StoreMaintenance for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
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
        self.notifications.stop();
        self.pool.close().await;
    }
}

impl Notifications for PostgresStore {
    fn subscribe(&self, topic: Topic) -> Subscription {
        self.notifications.subscribe(topic)
    }
}

/// Sends `NOTIFY channel, payload` for each payload, within the transaction
/// (or statement) that `executor` runs: delivered when it commits.
async fn notify<'e, Executor>(
    executor: Executor,
    channel: &str,
    payloads: &[&str],
) -> Result<(), sqlx::Error>
where
    Executor: sqlx::PgExecutor<'e>,
{
    if payloads.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload")
        .bind(channel)
        .bind(payloads)
        .execute(executor)
        .await?;
    Ok(())
}
