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
    /// Creates, coalesced into one transaction of two multi-row statements
    /// per group: one commit (and one WAL flush) for many requests.
    creations: Coalescer<String, CreateOutcome, NewResourceRequest>,
}

/// Inserts several requests in `PENDING`; rows whose client token is taken
/// in their account are skipped. Rows go in client-token order so that
/// concurrent statements wait on each other in one order (no deadlock).
const INSERT_REQUESTS: &str = concat!(
    "INSERT INTO resource_requests (request_token, account_id, client_token, created_at, \
       operation, type_name, requested_identifier, desired_state, patch_document, role_arn, \
       type_version_id, operation_status, identifier, event_time, event_count) \
     SELECT request_token, account_id, client_token, created_at, operation, type_name, \
       requested_identifier, desired_state, patch_document, role_arn, type_version_id, \
       'PENDING', requested_identifier, created_at, 1 \
     FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], \
       $7::text[], $8::text[], $9::text[], $10::text[], $11::text[]) \
       AS batch (request_token, account_id, client_token, created_at, operation, type_name, \
         requested_identifier, desired_state, patch_document, role_arn, type_version_id) \
     ORDER BY account_id, client_token \
     ON CONFLICT (account_id, client_token) WHERE client_token IS NOT NULL DO NOTHING \
     RETURNING ",
    request_columns!()
);

/// The first (`PENDING`) event of each inserted request.
const INSERT_FIRST_EVENTS: &str = "\
    INSERT INTO progress_events (request_token, seq, operation_status, identifier, event_time) \
    SELECT request_token, 1, 'PENDING', identifier, event_time \
    FROM unnest($1::text[], $2::text[], $3::bigint[]) AS batch (request_token, identifier, event_time)";

/// The requests holding some (account, client token) pairs.
const SELECT_REQUESTS_BY_CLIENT_TOKENS: &str = concat!(
    "SELECT ",
    request_columns!(),
    " FROM resource_requests WHERE (account_id, client_token) IN \
       (SELECT * FROM unnest($1::text[], $2::text[]))"
);

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
        let request_lookups = lookup_by_key(
            &pool,
            SELECT_REQUESTS_BY_TOKENS,
            groups_in_flight,
            |row: &RequestRow| &row.request_token,
        );
        let change_token_lookups = lookup_by_key(
            &pool,
            SELECT_CHANGE_TOKENS_BY_TOKENS,
            groups_in_flight,
            |row: &ChangeTokenRow| &row.change_token,
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
        let creation_pool = pool.clone();
        let creations = Coalescer::new(
            MAX_LOOKUP_GROUP,
            groups_in_flight,
            move |calls: Vec<(String, NewResourceRequest)>| {
                let pool = creation_pool.clone();
                async move { create_requests(&pool, calls).await }
            },
        );
        Ok(Self {
            pool,
            availability: Availability::default(),
            request_lookups,
            change_token_lookups,
            provisions,
            creations,
        })
    }

    async fn create(&self, request: &NewResourceRequest) -> Result<CreateOutcome, StoreError> {
        self.creations
            .call(request.request_token.as_str().to_owned(), request.clone())
            .await?
            .ok_or_else(|| StoreError::Internal("a create got no outcome".into()))
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

    /// Writers share the pool with readers.
    fn writer(&self) -> &PgPool {
        &self.pool
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

/// Records several requests in one transaction; each call gets `Created` or,
/// when its client token was taken, `ClientTokenTaken` with the holder.
async fn create_requests(
    pool: &PgPool,
    calls: Vec<(String, NewResourceRequest)>,
) -> Result<Vec<(String, CreateOutcome)>, StoreError> {
    let mut columns: [Vec<Option<String>>; 10] = Default::default();
    let mut created_ats = Vec::with_capacity(calls.len());
    for (_, request) in &calls {
        let input = &request.input;
        let row = [
            Some(request.request_token.as_str().to_owned()),
            Some(request.account.as_str().to_owned()),
            request
                .client_token
                .as_ref()
                .map(|token| token.as_str().to_owned()),
            Some(input.operation.as_str().to_owned()),
            Some(input.type_name.as_str().to_owned()),
            input
                .identifier
                .as_ref()
                .map(|value| value.as_str().to_owned()),
            input
                .desired_state
                .as_ref()
                .map(|value| value.as_str().to_owned()),
            input
                .patch_document
                .as_ref()
                .map(|value| value.as_str().to_owned()),
            input
                .role_arn
                .as_ref()
                .map(|value| value.as_str().to_owned()),
            input
                .type_version_id
                .as_ref()
                .map(|value| value.as_str().to_owned()),
        ];
        for (column, value) in columns.iter_mut().zip(row) {
            column.push(value);
        }
        created_ats.push(request.created_at.as_micros());
    }
    let [
        tokens,
        accounts,
        client_tokens,
        operations,
        type_names,
        identifiers,
        desired_states,
        patches,
        role_arns,
        type_versions,
    ] = columns;

    let mut transaction = pool.begin().await.map_err(PostgresStore::classify)?;
    let inserted: Vec<RequestRow> = sqlx::query_as(INSERT_REQUESTS)
        .bind(&tokens)
        .bind(&accounts)
        .bind(&client_tokens)
        .bind(&created_ats)
        .bind(&operations)
        .bind(&type_names)
        .bind(&identifiers)
        .bind(desired_states)
        .bind(patches)
        .bind(role_arns)
        .bind(type_versions)
        .fetch_all(&mut *transaction)
        .await
        .map_err(PostgresStore::classify)?;
    let event_tokens: Vec<&str> = inserted
        .iter()
        .map(|row| row.request_token.as_str())
        .collect();
    let event_identifiers: Vec<Option<&str>> = inserted
        .iter()
        .map(|row| row.identifier.as_deref())
        .collect();
    let event_times: Vec<i64> = inserted.iter().map(|row| row.event_time).collect();
    sqlx::query(INSERT_FIRST_EVENTS)
        .bind(event_tokens)
        .bind(event_identifiers)
        .bind(event_times)
        .execute(&mut *transaction)
        .await
        .map_err(PostgresStore::classify)?;
    transaction
        .commit()
        .await
        .map_err(PostgresStore::classify)?;

    let mut outcomes = Vec::with_capacity(calls.len());
    let mut inserted_tokens = std::collections::HashSet::with_capacity(inserted.len());
    for row in inserted {
        inserted_tokens.insert(row.request_token.clone());
        outcomes.push((
            row.request_token.clone(),
            CreateOutcome::Created(row.into_stored()?),
        ));
    }
    let taken: Vec<&NewResourceRequest> = calls
        .iter()
        .map(|(_, request)| request)
        .filter(|request| !inserted_tokens.contains(request.request_token.as_str()))
        .collect();
    if taken.is_empty() {
        return Ok(outcomes);
    }
    // Committed holders of the taken client tokens (the insert waited for them).
    let holder_accounts: Vec<&str> = taken
        .iter()
        .map(|request| request.account.as_str())
        .collect();
    let holder_tokens: Vec<Option<&str>> = taken
        .iter()
        .map(|request| request.client_token.as_ref().map(|token| token.as_str()))
        .collect();
    let holders: Vec<RequestRow> = sqlx::query_as(SELECT_REQUESTS_BY_CLIENT_TOKENS)
        .bind(holder_accounts)
        .bind(holder_tokens)
        .fetch_all(pool)
        .await
        .map_err(PostgresStore::classify)?;
    let mut by_client_token = std::collections::HashMap::with_capacity(holders.len());
    for holder in holders {
        let key = (holder.account_id.clone(), holder.client_token.clone());
        by_client_token.insert(key, holder.into_stored()?);
    }
    for request in taken {
        let key = (
            request.account.as_str().to_owned(),
            request
                .client_token
                .as_ref()
                .map(|token| token.as_str().to_owned()),
        );
        let holder = by_client_token
            .get(&key)
            .cloned()
            .ok_or_else(|| StoreError::Unavailable("client token owner vanished; retry".into()))?;
        outcomes.push((
            request.request_token.as_str().to_owned(),
            CreateOutcome::ClientTokenTaken(holder),
        ));
    }
    Ok(outcomes)
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

/// Loads rows by their text key with `sql` (`... WHERE key = ANY($1)`),
/// coalescing concurrent lookups.
fn lookup_by_key<Row>(
    pool: &PgPool,
    sql: &'static str,
    groups_in_flight: usize,
    key_of: fn(&Row) -> &String,
) -> Coalescer<String, Row>
where
    Row: for<'row> sqlx::FromRow<'row, sqlx::postgres::PgRow>
        + Clone
        + Send
        + Sync
        + Unpin
        + 'static,
{
    let pool = pool.clone();
    Coalescer::new(
        MAX_LOOKUP_GROUP,
        groups_in_flight,
        move |calls: Vec<(String, ())>| {
            let pool = pool.clone();
            let keys: Vec<String> = calls.into_iter().map(|(key, ())| key).collect();
            async move {
                let rows: Vec<Row> = sqlx::query_as(sql)
                    .bind(keys)
                    .fetch_all(&pool)
                    .await
                    .map_err(PostgresStore::classify)?;
                Ok(rows
                    .into_iter()
                    .map(|row| (key_of(&row).clone(), row))
                    .collect())
            }
        },
    )
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
