//! The Postgres store: what production runs, several replicas on one
//! database. Errors are classified by SQLSTATE so that a database outage is
//! `Unavailable` (retryable) and everything else `Internal`.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres};

use super::coalesce::Coalescer;
use super::rows::{ChangeTokenRow, EventRow, RequestRow};
use super::sql::{self, change_token_columns, impl_store_with_shared_sql, request_columns};
use super::{Availability, CreateOutcome, Decide, ListQuery, ListedRequest, StoreError};
use crate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus, WafEndpoint};
use crate::domain::resource_request::{
    Decision, NewResourceRequest, Operation, OperationStatus, ProgressEvent, StoredResourceRequest,
};
use crate::domain::values::{ChangeDescription, ChangeToken, RequestToken};
use crate::domain::{AccountId, Timestamp};

type Backend = Postgres;

const SELECT_REQUESTS_BY_TOKENS: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM resource_requests WHERE request_token = ANY($1)"
);

const SELECT_CHANGE_TOKENS_BY_TOKENS: &str = concat!(
    "SELECT ",
    change_token_columns!(),
    " FROM change_tokens WHERE change_token = ANY($1)"
);

/// How long a caller waits for a pooled connection before the request fails
/// as unavailable, rather than hanging while the database is away.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Most distinct keys one coalesced lookup asks for.
const MAX_LOOKUP_GROUP: usize = 256;

pub struct PostgresStore {
    pool: PgPool,
    availability: Availability,
    /// Status reads, coalesced into `= ANY($1)` queries under load.
    request_lookups: Coalescer<String, RequestRow>,
    change_token_lookups: Coalescer<String, ChangeTokenRow>,
    /// GetChangeToken, coalesced into multi-row upserts under load: calls
    /// for the same scope share one row (they would get the same token
    /// anyway), other scopes share the statement.
    provisions: Coalescer<ScopeKey, String, ProvisionCandidate>,
}

/// (account, endpoint, region): what makes a change token scope.
type ScopeKey = (String, &'static str, String);

/// The token to store if the scope has none, and when.
type ProvisionCandidate = (String, i64);

/// Provisions the tokens of several scopes in one statement. Rows go in
/// scope order so that concurrent statements (from several replicas) lock
/// conflicting rows in the same order and cannot deadlock.
const PROVISION_CHANGE_TOKENS: &str = "\
    INSERT INTO change_tokens (change_token, account_id, endpoint, region, status, created_at) \
    SELECT token, account_id, endpoint, region, 'PROVISIONED', created_at \
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
      AS batch (token, account_id, endpoint, region, created_at) \
    ORDER BY account_id, endpoint, region \
    ON CONFLICT (account_id, endpoint, region) WHERE status = 'PROVISIONED' \
    DO UPDATE SET status = change_tokens.status \
    RETURNING change_token, account_id, endpoint, region";

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("PostgresStore")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects (failing within [`ACQUIRE_TIMEOUT`] when the database is
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
            .map_err(Self::classify)?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(Self::classify)?;
        // The migrator takes an advisory lock, so replicas starting together
        // apply each migration once.
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|error| StoreError::Internal(format!("migration failed: {error}")))?;
        // Half the pool may serve coalesced reads; the rest stays for writes.
        let groups_in_flight = (max_connections / 2).max(1) as usize;
        let request_pool = pool.clone();
        let request_lookups = Coalescer::new(
            MAX_LOOKUP_GROUP,
            groups_in_flight,
            move |calls: Vec<(String, ())>| {
                let pool = request_pool.clone();
                let tokens: Vec<String> = calls.into_iter().map(|(token, ())| token).collect();
                async move {
                    let rows: Vec<RequestRow> = sqlx::query_as(SELECT_REQUESTS_BY_TOKENS)
                        .bind(tokens)
                        .fetch_all(&pool)
                        .await
                        .map_err(Self::classify)?;
                    Ok(rows
                        .into_iter()
                        .map(|row| (row.request_token.clone(), row))
                        .collect())
                }
            },
        );
        let token_pool = pool.clone();
        let change_token_lookups = Coalescer::new(
            MAX_LOOKUP_GROUP,
            groups_in_flight,
            move |calls: Vec<(String, ())>| {
                let pool = token_pool.clone();
                let tokens: Vec<String> = calls.into_iter().map(|(token, ())| token).collect();
                async move {
                    let rows: Vec<ChangeTokenRow> = sqlx::query_as(SELECT_CHANGE_TOKENS_BY_TOKENS)
                        .bind(tokens)
                        .fetch_all(&pool)
                        .await
                        .map_err(Self::classify)?;
                    Ok(rows
                        .into_iter()
                        .map(|row| (row.change_token.clone(), row))
                        .collect())
                }
            },
        );
        let provision_pool = pool.clone();
        let provisions = Coalescer::new(
            MAX_LOOKUP_GROUP,
            groups_in_flight,
            move |calls: Vec<(ScopeKey, ProvisionCandidate)>| {
                let pool = provision_pool.clone();
                async move { provision_scopes(&pool, calls).await }
            },
        );
        Ok(Self {
            pool,
            availability: Availability::default(),
            request_lookups,
            change_token_lookups,
            provisions,
        })
    }

    async fn provision(
        &self,
        scope: &ChangeTokenScope,
        candidate: &ChangeToken,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let key = (
            scope.account().as_str().to_owned(),
            scope.endpoint().as_str(),
            scope.region_key().to_owned(),
        );
        let candidate = (candidate.as_str().to_owned(), now.as_micros());
        self.provisions
            .call(key, candidate)
            .await?
            .ok_or_else(|| StoreError::Internal("the upsert returned no row for a scope".into()))
    }

    async fn find_change_token(
        &self,
        token: &ChangeToken,
    ) -> Result<Option<ChangeTokenRow>, StoreError> {
        self.change_token_lookups
            .get(token.as_str().to_owned())
            .await
    }

    async fn find_request(&self, token: &RequestToken) -> Result<Option<RequestRow>, StoreError> {
        self.request_lookups.get(token.as_str().to_owned()).await
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    /// The row lock that serialises concurrent writers of one request.
    const SELECT_REQUEST_FOR_UPDATE: &'static str = concat!(
        "SELECT ",
        request_columns!(),
        " FROM resource_requests WHERE request_token = $1 AND account_id = $2 AND created_at >= $3 \
         FOR UPDATE"
    );

    /// `$3` is the cursor (exclusive), `$4`/`$5` the allowed operations and statuses.
    const LIST_REQUESTS: &'static str = concat!(
        "SELECT ",
        request_columns!(),
        " FROM resource_requests \
         WHERE account_id = $1 AND created_at >= $2 AND seq < $3 \
           AND operation = ANY($4) AND operation_status = ANY($5) \
         ORDER BY seq DESC LIMIT $6"
    );

    fn filter_param(values: &[&'static str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    /// Maps a sqlx error by SQLSTATE: connection loss, shutdown, too many
    /// connections and serialisation failures are retryable.
    fn classify(error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.to_string()),
            sqlx::Error::Database(database_error) => match database_error.code().as_deref() {
                Some(code) if is_retryable_sqlstate(code) => {
                    StoreError::Unavailable(error.to_string())
                }
                _ => StoreError::Internal(error.to_string()),
            },
            _ => StoreError::Internal(error.to_string()),
        }
    }
}

async fn provision_scopes(
    pool: &PgPool,
    calls: Vec<(ScopeKey, ProvisionCandidate)>,
) -> Result<Vec<(ScopeKey, String)>, StoreError> {
    let mut tokens = Vec::with_capacity(calls.len());
    let mut accounts = Vec::with_capacity(calls.len());
    let mut endpoints = Vec::with_capacity(calls.len());
    let mut regions = Vec::with_capacity(calls.len());
    let mut created_ats = Vec::with_capacity(calls.len());
    for ((account, endpoint, region), (token, created_at)) in calls {
        tokens.push(token);
        accounts.push(account);
        endpoints.push(endpoint);
        regions.push(region);
        created_ats.push(created_at);
    }
    let rows: Vec<(String, String, String, String)> = sqlx::query_as(PROVISION_CHANGE_TOKENS)
        .bind(tokens)
        .bind(accounts)
        .bind(endpoints)
        .bind(regions)
        .bind(created_ats)
        .fetch_all(pool)
        .await
        .map_err(PostgresStore::classify)?;
    rows.into_iter()
        .map(|(token, account, endpoint, region)| {
            let endpoint = WafEndpoint::from_stored(&endpoint).ok_or_else(|| {
                StoreError::Internal(format!("stored endpoint {endpoint:?} is not valid"))
            })?;
            Ok(((account, endpoint.as_str(), region), token))
        })
        .collect()
}

fn is_retryable_sqlstate(code: &str) -> bool {
    // 08: connection exception; 57P01-03: admin/crash shutdown, cannot connect
    // now; 53300: too many connections; 40001/40P01: serialisation, deadlock.
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01"
        )
}

impl_store_with_shared_sql!(PostgresStore, "postgres", "postgresql");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classified() {
        for retryable in [
            "08006", "08001", "57P01", "57P03", "53300", "40001", "40P01",
        ] {
            assert!(is_retryable_sqlstate(retryable), "{retryable}");
        }
        for permanent in ["23505", "42P01", "22001", "XX000"] {
            assert!(!is_retryable_sqlstate(permanent), "{permanent}");
        }
    }

    #[test]
    fn transport_failures_are_unavailable() {
        assert!(matches!(
            PostgresStore::classify(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            PostgresStore::classify(sqlx::Error::PoolClosed),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            PostgresStore::classify(sqlx::Error::RowNotFound),
            StoreError::Internal(_)
        ));
    }
}
