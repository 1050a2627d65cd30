//! WAF Classic change tokens: get, status, consume, mark in sync, and the
//! operators' listing of an account's tokens.

use std::sync::Arc;
use std::time::Duration;

use super::cursor::CHANGE_TOKENS;
use super::{run_to_completion, unexpected};
use crate::domain::change_token::{
    ChangeTokenScope, ChangeTokenStatus, ChangeTokenSummary, WafEndpoint,
};
use crate::domain::values::{ChangeDescription, ChangeToken, MaxResults, NextToken, Region};
use crate::domain::{AccountId, Clock, Error, ErrorCode, Timestamp};
use crate::store::{ChangeTokenListQuery, ChangeTokenPosition, Store, StoreError};

/// A `ListChangeTokens` call, its account already resolved.
#[derive(Debug, Clone)]
pub struct ChangeTokenListRequest {
    pub account: AccountId,
    /// `None` lists both endpoints.
    pub endpoint: Option<WafEndpoint>,
    /// `None` lists every region; narrows WAF Regional tokens only.
    pub region: Option<Region>,
    /// Empty lists every status.
    pub statuses: Vec<ChangeTokenStatus>,
    pub max_results: MaxResults,
    pub next_token: Option<NextToken>,
}

/// One page of tokens, newest first.
#[derive(Debug, Clone)]
pub struct ChangeTokenPage {
    pub change_tokens: Vec<ChangeTokenSummary>,
    pub next_token: Option<String>,
}

#[derive(Clone)]
pub struct ChangeTokenService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    default_account: AccountId,
    /// The WAF Regional region of a request that names none: the same
    /// `--default-region` as Cloud Control's.
    default_region: Region,
    retention: Duration,
}

fn nonexistent(token: &ChangeToken) -> Error {
    Error::new(
        ErrorCode::ChangeTokenNotFound,
        format!("The referenced item {token} does not exist"),
    )
}

impl ChangeTokenService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        default_account: AccountId,
        default_region: Region,
        retention: Duration,
    ) -> Self {
        Self {
            store,
            clock,
            default_account,
            default_region,
            retention,
        }
    }

    /// The WAF Regional region of a caller that names none.
    pub fn default_region(&self) -> &Region {
        &self.default_region
    }

    /// The account a caller without one acts as.
    pub fn default_account(&self) -> &AccountId {
        &self.default_account
    }

    /// INSYNC tokens older than the retention are gone.
    fn in_sync_visible_since(&self, now: Timestamp) -> Timestamp {
        now.minus(self.retention)
    }

    /// The scope's outstanding token, or a new one.
    pub async fn get_change_token(&self, scope: &ChangeTokenScope) -> Result<ChangeToken, Error> {
        let candidate = ChangeToken::parse(uuid::Uuid::new_v4().to_string())
            .expect("a UUID is a valid change token");
        let (store, scope, now) = (self.store.clone(), scope.clone(), self.clock.now());
        run_to_completion(
            async move { store.provision_change_token(&scope, &candidate, now).await },
        )
        .await
        .map_err(|error| unexpected("GetChangeToken", error))
    }

    pub async fn get_change_token_status(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
    ) -> Result<ChangeTokenStatus, Error> {
        let visible_since = self.in_sync_visible_since(self.clock.now());
        match self
            .store
            .change_token_status(scope, token, visible_since)
            .await
        {
            Ok(status) => Ok(status),
            Err(StoreError::NotFound) => Err(nonexistent(token)),
            Err(error) => Err(unexpected("GetChangeTokenStatus", error)),
        }
    }

    /// A page of the account's tokens, newest first. A cursor names the last
    /// token of the previous page (see `cursor.rs`); one that names no token
    /// of the account is invalid input.
    pub async fn list_change_tokens(
        &self,
        request: &ChangeTokenListRequest,
    ) -> Result<ChangeTokenPage, Error> {
        let cursor = request
            .next_token
            .as_ref()
            .map(|token| CHANGE_TOKENS.decode(token, ChangeToken::parse))
            .transpose()?;
        let page_size = request.max_results.get();
        let query = ChangeTokenListQuery {
            account: request.account.clone(),
            endpoint: request.endpoint,
            region: request.region.clone(),
            statuses: request.statuses.clone(),
            after: cursor.map(|cursor| ChangeTokenPosition {
                created_at: cursor.created_at,
                token: cursor.key,
            }),
            // One extra row tells whether another page exists.
            limit: page_size + 1,
            in_sync_visible_since: self.in_sync_visible_since(self.clock.now()),
        };
        let mut listed = match self.store.list_change_tokens(&query).await {
            Ok(listed) => listed,
            // Only a cursor can be not found: one of another account, or none at all.
            Err(StoreError::NotFound) => match &request.next_token {
                Some(token) => return Err(CHANGE_TOKENS.not_of_this_account(token)),
                None => return Err(unexpected("ListChangeTokens", StoreError::NotFound)),
            },
            Err(error) => return Err(unexpected("ListChangeTokens", error)),
        };
        let next_token = if listed.len() > page_size as usize {
            listed.truncate(page_size as usize);
            listed
                .last()
                .map(|last| CHANGE_TOKENS.encode(last.created_at, last.token.as_str()))
        } else {
            None
        };
        Ok(ChangeTokenPage {
            change_tokens: listed,
            next_token,
        })
    }

    /// `PROVISIONED -> PENDING`; a token used before is `WAFStaleDataException`.
    pub async fn consume_change_token(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        description: &ChangeDescription,
    ) -> Result<ChangeTokenStatus, Error> {
        let now = self.clock.now();
        let visible_since = self.in_sync_visible_since(now);
        let (store, owned_scope, owned_token, description) = (
            self.store.clone(),
            scope.clone(),
            token.clone(),
            description.clone(),
        );
        let consumed = run_to_completion(async move {
            store
                .consume_change_token(&owned_scope, &owned_token, &description, now, visible_since)
                .await
        });
        match consumed.await {
            Ok(()) => Ok(ChangeTokenStatus::Pending),
            Err(StoreError::NotFound) => Err(nonexistent(token)),
            Err(StoreError::Conflict) => Err(Error::new(
                ErrorCode::ChangeTokenAlreadyUsed,
                format!("The change token {token} has already been used"),
            )),
            Err(error) => Err(unexpected("ConsumeChangeToken", error)),
        }
    }

    /// `PENDING -> INSYNC`, idempotent. A token nobody used yet has nothing to
    /// propagate: `WAFInvalidOperationException`.
    pub async fn mark_change_token_in_sync(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
    ) -> Result<ChangeTokenStatus, Error> {
        let now = self.clock.now();
        let visible_since = self.in_sync_visible_since(now);
        let (store, owned_scope, owned_token) = (self.store.clone(), scope.clone(), token.clone());
        let marked = run_to_completion(async move {
            store
                .mark_change_token_in_sync(&owned_scope, &owned_token, now, visible_since)
                .await
        });
        match marked.await {
            Ok(()) => Ok(ChangeTokenStatus::InSync),
            Err(StoreError::NotFound) => Err(nonexistent(token)),
            Err(StoreError::Conflict) => Err(Error::new(
                ErrorCode::ChangeTokenNotUsed,
                format!("The change token {token} has not been used in a change yet"),
            )),
            Err(error) => Err(unexpected("MarkChangeTokenInSync", error)),
        }
    }

    /// Simulated propagation: marks `INSYNC` up to `batch_size` `PENDING`
    /// tokens used at least `propagation_delay` ago, oldest first; returns how
    /// many it marked (fewer than `batch_size`: none are left due). Safe to
    /// call from several replicas at once.
    pub async fn mark_propagated_in_sync(
        &self,
        propagation_delay: Duration,
        batch_size: u32,
    ) -> Result<u64, Error> {
        let now = self.clock.now();
        self.store
            .mark_change_tokens_in_sync_consumed_before(
                now.minus(propagation_delay),
                now,
                batch_size,
            )
            .await
            .map_err(|error| unexpected("SimulatePropagation", error))
    }

    /// Deletes one batch of INSYNC tokens past the retention.
    pub async fn purge_expired(&self, batch_size: u32) -> Result<u64, Error> {
        let cutoff = self.in_sync_visible_since(self.clock.now());
        self.store
            .purge_change_tokens(cutoff, batch_size)
            .await
            .map_err(|error| unexpected("PurgeChangeTokens", error))
    }
}
