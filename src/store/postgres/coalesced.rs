//! The Postgres statements that answer a whole group of coalesced calls (see
//! `store/coalesce.rs`): status and change-token lookups as `= ANY($1)`
//! queries, `GetChangeToken` as one multi-row upsert, and creates as one
//! transaction of two multi-row inserts (group commit: one WAL flush for
//! many requests, in `create_group.rs`). Under load one round trip answers
//! many callers; unloaded, a call runs alone and at once.

use std::sync::Arc;

use sqlx::PgPool;

use super::create_group::create_requests;
use super::errors::classify;
use super::read_connections::ReadConnections;
use crate::domain::Timestamp;
use crate::domain::change_token::{ChangeTokenScope, WafEndpoint};
use crate::domain::resource_request::NewResourceRequest;
use crate::domain::values::{ChangeToken, RequestToken};
use crate::store::coalesce::Coalescer;
use crate::store::error::StoreError;
use crate::store::resource_requests::CreateOutcome;
use crate::store::rows::{ChangeTokenRow, StatusRow};
use crate::store::token_key::TokenKey;

/// Most distinct keys one coalesced group serves.
const MAX_GROUP: usize = 256;

/// The columns of [`StatusRow`].
const SELECT_STATUSES_BY_TOKENS: &str = "\
    SELECT request_token, type_name, operation, operation_status, identifier, resource_model, \
      status_message, error_code, retry_after, event_time, hooks_request_token, account_id, \
      region, created_at \
    FROM resource_requests WHERE request_token = ANY($1)";

const SELECT_CHANGE_TOKENS_BY_TOKENS: &str = "\
    SELECT change_token, account_id, endpoint, region, status, insync_at \
    FROM change_tokens WHERE change_token = ANY($1)";

/// Provisions the tokens of several scopes in one statement. Rows go in
/// scope order so that concurrent statements (from several replicas) lock
/// conflicting rows in the same order and cannot deadlock.
const PROVISION_CHANGE_TOKENS: &str = "\
    INSERT INTO change_tokens (change_token, account_id, endpoint, region, status, created_at) \
    SELECT token, account_id, endpoint, region, 'PROVISIONED', created_at \
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[]) \
      AS batch (token, account_id, endpoint, region, created_at) \
    ORDER BY account_id, endpoint, region \
    ON CONFLICT (account_id, endpoint, region) WHERE status = 'PROVISIONED' \
    DO UPDATE SET status = change_tokens.status \
    RETURNING change_token, account_id, endpoint, region";

/// (account, endpoint, region): what makes a change token scope.
type ScopeKey = (String, &'static str, String);

/// The token to store if the scope has none, and when.
type ProvisionCandidate = (TokenKey, i64);

/// The coalescers of the Postgres store, one per coalesced statement.
pub(super) struct Coalesced {
    /// Status reads, coalesced into `= ANY($1)` queries under load.
    statuses: Coalescer<TokenKey, StatusRow>,
    change_tokens: Coalescer<TokenKey, ChangeTokenRow>,
    /// GetChangeToken, coalesced into multi-row upserts under load: calls
    /// for the same scope share one row (they would get the same token
    /// anyway), other scopes share the statement.
    provisions: Coalescer<ScopeKey, TokenKey, ProvisionCandidate>,
    /// Creates, coalesced into one transaction of two multi-row statements
    /// per group: one commit (and one WAL flush) for many requests.
    creations: Coalescer<String, CreateOutcome, NewResourceRequest>,
}

impl Coalesced {
    /// Each write coalescer runs at most `groups_in_flight` groups at a
    /// time on `pool`; the two lookups share `reads`, one group per
    /// connection.
    pub(super) fn new(
        pool: &PgPool,
        reads: &Arc<ReadConnections>,
        groups_in_flight: usize,
    ) -> Self {
        let reads_in_flight = reads.size();
        let statuses = lookup_by_key(
            reads,
            SELECT_STATUSES_BY_TOKENS,
            reads_in_flight,
            |row: &StatusRow| row.current.request_token,
        );
        let change_tokens = lookup_by_key(
            reads,
            SELECT_CHANGE_TOKENS_BY_TOKENS,
            reads_in_flight,
            |row: &ChangeTokenRow| row.change_token,
        );
        let provision_pool = pool.clone();
        let provisions = Coalescer::new(
            MAX_GROUP,
            groups_in_flight,
            move |calls: Vec<(ScopeKey, ProvisionCandidate)>| {
                let pool = provision_pool.clone();
                async move { provision_scopes(&pool, calls).await }
            },
        );
        let creation_pool = pool.clone();
        let creations = Coalescer::new(
            MAX_GROUP,
            groups_in_flight,
            move |calls: Vec<(String, NewResourceRequest)>| {
                let pool = creation_pool.clone();
                async move { create_requests(&pool, calls).await }
            },
        );
        Self {
            statuses,
            change_tokens,
            provisions,
            creations,
        }
    }

    /// The request's status row; the caller checks account and visibility.
    pub(super) async fn status(
        &self,
        token: &RequestToken,
    ) -> Result<Option<StatusRow>, StoreError> {
        match TokenKey::of(token.as_str()) {
            Some(key) => self.statuses.get(key).await,
            None => Ok(None),
        }
    }

    /// The token's row; the caller checks scope and visibility.
    pub(super) async fn change_token(
        &self,
        token: &ChangeToken,
    ) -> Result<Option<ChangeTokenRow>, StoreError> {
        match TokenKey::of(token.as_str()) {
            Some(key) => self.change_tokens.get(key).await,
            None => Ok(None),
        }
    }

    /// The scope's `PROVISIONED` token, `candidate` if it had none.
    pub(super) async fn provision(
        &self,
        scope: &ChangeTokenScope,
        candidate: &ChangeToken,
        now: Timestamp,
    ) -> Result<TokenKey, StoreError> {
        let key = (
            scope.account().as_str().to_owned(),
            scope.endpoint().as_str(),
            scope.region_key().to_owned(),
        );
        let candidate = (TokenKey::of_new(candidate.as_str())?, now.as_micros());
        self.provisions
            .call(key, candidate)
            .await?
            .ok_or_else(|| StoreError::Internal("the upsert returned no row for a scope".into()))
    }

    pub(super) async fn create(
        &self,
        request: &NewResourceRequest,
    ) -> Result<CreateOutcome, StoreError> {
        self.creations
            .call(request.request_token.as_str().to_owned(), request.clone())
            .await?
            .ok_or_else(|| StoreError::Internal("a create got no outcome".into()))
    }
}

/// Loads rows by their token key with `sql` (`... WHERE key = ANY($1)`),
/// coalescing concurrent lookups.
fn lookup_by_key<Row>(
    connections: &Arc<ReadConnections>,
    sql: &'static str,
    groups_in_flight: usize,
    key_of: fn(&Row) -> TokenKey,
) -> Coalescer<TokenKey, Row>
where
    Row: for<'row> sqlx::FromRow<'row, sqlx::postgres::PgRow>
        + Clone
        + Send
        + Sync
        + Unpin
        + 'static,
{
    let connections = Arc::clone(connections);
    Coalescer::new(
        MAX_GROUP,
        groups_in_flight,
        move |calls: Vec<(TokenKey, ())>| {
            let connections = Arc::clone(&connections);
            let keys: Vec<TokenKey> = calls.into_iter().map(|(key, ())| key).collect();
            async move {
                let mut connection = connections.take().await?;
                let rows: Vec<Row> = sqlx::query_as(sql)
                    .bind(keys)
                    .fetch_all(connection.connection())
                    .await
                    .map_err(classify)?;
                connection.keep();
                Ok(rows.into_iter().map(|row| (key_of(&row), row)).collect())
            }
        },
    )
}

/// The rows returned by [`PROVISION_CHANGE_TOKENS`].
#[derive(sqlx::FromRow)]
struct ProvisionedRow {
    change_token: TokenKey,
    account_id: String,
    endpoint: String,
    region: String,
}

async fn provision_scopes(
    pool: &PgPool,
    calls: Vec<(ScopeKey, ProvisionCandidate)>,
) -> Result<Vec<(ScopeKey, TokenKey)>, StoreError> {
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
    let rows: Vec<ProvisionedRow> = sqlx::query_as(PROVISION_CHANGE_TOKENS)
        .bind(tokens)
        .bind(accounts)
        .bind(endpoints)
        .bind(regions)
        .bind(created_ats)
        .fetch_all(pool)
        .await
        .map_err(classify)?;
    rows.into_iter()
        .map(|row| {
            let endpoint = WafEndpoint::from_stored(&row.endpoint).ok_or_else(|| {
                StoreError::Internal(format!("stored endpoint {:?} is not valid", row.endpoint))
            })?;
            Ok((
                (row.account_id, endpoint.as_str(), row.region),
                row.change_token,
            ))
        })
        .collect()
}
