//! Group commit for creates on Postgres: the creates of one coalesced group
//! go into one transaction of two multi-row inserts (requests, then their
//! first events), so one commit, and one WAL flush, records many requests.
//! A create whose client token is taken inserts nothing and is answered with
//! the request holding that token; one that the index of unfinished changes
//! per resource refuses inserts nothing and is answered `ResourceBusy`.
//!
//! The requests travel as one array per column through `unnest`, gathered by
//! [`NewRequestColumns`], which names each column once.

use std::collections::{HashMap, HashSet};

use sqlx::PgPool;

use super::errors::classify;
use crate::domain::resource_request::NewResourceRequest;
use crate::store::error::StoreError;
use crate::store::resource_requests::CreateOutcome;
use crate::store::rows::{RequestRow, inserted_request};
use crate::store::token_key::TokenKey;

/// Inserts several requests in `PENDING`; rows whose client token is taken
/// in their account and region, or whose resource an unfinished `UPDATE`
/// or `DELETE` holds, are skipped (`DO NOTHING` for either unique index).
/// Rows go in client-token order so that concurrent statements wait on
/// each other in one order (no deadlock).
/// Binds the fields of [`NewRequestColumns`], in their order.
const INSERT_REQUESTS: &str = "\
    INSERT INTO resource_requests (request_token, account_id, region, client_token, created_at, \
      operation, type_name, requested_identifier, desired_state, patch_document, role_arn, \
      type_version_id, operation_status, identifier, event_time, event_count) \
    SELECT request_token, account_id, region, client_token, created_at, operation, type_name, \
      requested_identifier, desired_state, patch_document, role_arn, type_version_id, \
      'PENDING', requested_identifier, created_at, 1 \
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], \
      $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[]) \
      AS batch (request_token, account_id, client_token, created_at, operation, type_name, \
        requested_identifier, desired_state, patch_document, role_arn, type_version_id, region) \
    ORDER BY account_id, region, client_token \
    ON CONFLICT DO NOTHING \
    RETURNING request_token";

/// The first (`PENDING`) event of each inserted request.
const INSERT_FIRST_EVENTS: &str = "\
    INSERT INTO progress_events (request_token, seq, operation_status, identifier, event_time) \
    SELECT request_token, 1, 'PENDING', identifier, event_time \
    FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS batch (request_token, identifier, event_time)";

/// The requests holding some (account, region, client token) triples.
const SELECT_REQUESTS_BY_CLIENT_TOKENS: &str = "\
    SELECT * FROM resource_requests WHERE (account_id, region, client_token) IN \
      (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))";

/// A group of new requests as one array per column of [`INSERT_REQUESTS`].
#[derive(Default)]
struct NewRequestColumns<'a> {
    request_token: Vec<TokenKey>,
    account_id: Vec<&'a str>,
    client_token: Vec<Option<&'a str>>,
    created_at: Vec<i64>,
    operation: Vec<&'static str>,
    type_name: Vec<&'a str>,
    requested_identifier: Vec<Option<&'a str>>,
    desired_state: Vec<Option<&'a str>>,
    patch_document: Vec<Option<&'a str>>,
    role_arn: Vec<Option<&'a str>>,
    type_version_id: Vec<Option<&'a str>>,
    region: Vec<&'a str>,
}

impl<'a> NewRequestColumns<'a> {
    fn push(&mut self, request: &'a NewResourceRequest) -> Result<(), StoreError> {
        let input = &request.input;
        self.request_token
            .push(TokenKey::of_new(request.request_token.as_str())?);
        self.account_id.push(request.scope.account.as_str());
        self.region.push(request.scope.region.as_str());
        self.client_token
            .push(request.client_token.as_ref().map(|token| token.as_str()));
        self.created_at.push(request.created_at.as_micros());
        self.operation.push(input.operation.as_str());
        self.type_name.push(input.type_name.as_str());
        self.requested_identifier
            .push(input.identifier.as_ref().map(|value| value.as_str()));
        self.desired_state
            .push(input.desired_state.as_ref().map(|value| value.as_str()));
        self.patch_document
            .push(input.patch_document.as_ref().map(|value| value.as_str()));
        self.role_arn
            .push(input.role_arn.as_ref().map(|value| value.as_str()));
        self.type_version_id
            .push(input.type_version_id.as_ref().map(|value| value.as_str()));
        Ok(())
    }
}

/// Records several requests in one transaction; each call gets `Created`,
/// `ClientTokenTaken` with the holder when its client token was taken, or
/// `ResourceBusy` when its resource is being changed.
pub(super) async fn create_requests(
    pool: &PgPool,
    calls: Vec<(String, NewResourceRequest)>,
) -> Result<Vec<(String, CreateOutcome)>, StoreError> {
    let requests: Vec<NewResourceRequest> = calls.into_iter().map(|(_, request)| request).collect();
    let inserted = insert_requests(pool, &requests).await?;
    let (created, taken): (Vec<_>, Vec<_>) = requests
        .into_iter()
        .partition(|request| is_inserted(&inserted, request));
    let mut outcomes: Vec<(String, CreateOutcome)> = created
        .into_iter()
        .map(|request| {
            let token = request.request_token.as_str().to_owned();
            (token, CreateOutcome::Created(inserted_request(request)))
        })
        .collect();
    outcomes.extend(client_token_holders(pool, &taken).await?);
    Ok(outcomes)
}

/// Inserts the requests whose client token is free, with their first
/// events, in one transaction; returns the tokens of those it inserted.
async fn insert_requests(
    pool: &PgPool,
    requests: &[NewResourceRequest],
) -> Result<HashSet<TokenKey>, StoreError> {
    let mut columns = NewRequestColumns::default();
    for request in requests {
        columns.push(request)?;
    }
    let mut transaction = pool.begin().await.map_err(classify)?;
    let inserted: HashSet<TokenKey> = sqlx::query_scalar(INSERT_REQUESTS)
        .bind(columns.request_token)
        .bind(columns.account_id)
        .bind(columns.client_token)
        .bind(columns.created_at)
        .bind(columns.operation)
        .bind(columns.type_name)
        .bind(columns.requested_identifier)
        .bind(columns.desired_state)
        .bind(columns.patch_document)
        .bind(columns.role_arn)
        .bind(columns.type_version_id)
        .bind(columns.region)
        .fetch_all(&mut *transaction)
        .await
        .map_err(classify)?
        .into_iter()
        .collect();
    let first_events: Vec<_> = requests
        .iter()
        .filter(|request| is_inserted(&inserted, request))
        .map(NewResourceRequest::first_event)
        .collect();
    let event_tokens: Vec<TokenKey> = first_events
        .iter()
        .map(|event| TokenKey::of_new(&event.request_token))
        .collect::<Result<_, _>>()?;
    let event_identifiers: Vec<Option<&str>> = first_events
        .iter()
        .map(|event| event.identifier.as_deref())
        .collect();
    let event_times: Vec<i64> = first_events
        .iter()
        .map(|event| event.event_time.as_micros())
        .collect();
    sqlx::query(INSERT_FIRST_EVENTS)
        .bind(event_tokens)
        .bind(event_identifiers)
        .bind(event_times)
        .execute(&mut *transaction)
        .await
        .map_err(classify)?;
    transaction.commit().await.map_err(classify)?;
    Ok(inserted)
}

/// Whether `request` is among the requests the insert returned.
fn is_inserted(inserted: &HashSet<TokenKey>, request: &NewResourceRequest) -> bool {
    TokenKey::of(request.request_token.as_str()).is_some_and(|key| inserted.contains(&key))
}

/// The outcomes of requests the insert skipped: the committed holders of
/// their client tokens (the insert waited for them), or, for a request
/// whose token no request holds (or that has none), `ResourceBusy`: only
/// the index of unfinished changes per resource can have refused it.
async fn client_token_holders(
    pool: &PgPool,
    taken: &[NewResourceRequest],
) -> Result<Vec<(String, CreateOutcome)>, StoreError> {
    if taken.is_empty() {
        return Ok(Vec::new());
    }
    let accounts: Vec<&str> = taken
        .iter()
        .map(|request| request.scope.account.as_str())
        .collect();
    let regions: Vec<&str> = taken
        .iter()
        .map(|request| request.scope.region.as_str())
        .collect();
    let client_tokens: Vec<Option<&str>> = taken
        .iter()
        .map(|request| request.client_token.as_ref().map(|token| token.as_str()))
        .collect();
    let holders: Vec<RequestRow> = sqlx::query_as(SELECT_REQUESTS_BY_CLIENT_TOKENS)
        .bind(accounts)
        .bind(regions)
        .bind(client_tokens)
        .fetch_all(pool)
        .await
        .map_err(classify)?;
    let mut by_client_token = HashMap::with_capacity(holders.len());
    for holder in holders {
        let key = (
            holder.status.account_id.clone(),
            holder.status.region.clone(),
            holder.client_token.clone(),
        );
        by_client_token.insert(key, holder.into_stored()?);
    }
    taken
        .iter()
        .map(|request| {
            let key = (
                request.scope.account.as_str().to_owned(),
                request.scope.region.as_str().to_owned(),
                request
                    .client_token
                    .as_ref()
                    .map(|token| token.as_str().to_owned()),
            );
            let outcome = match by_client_token.get(&key) {
                Some(holder) if key.2.is_some() => CreateOutcome::ClientTokenTaken(holder.clone()),
                Some(_) | None => CreateOutcome::ResourceBusy,
            };
            let token = request.request_token.as_str().to_owned();
            Ok((token, outcome))
        })
        .collect()
}
