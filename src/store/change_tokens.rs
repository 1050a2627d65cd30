//! The change-token contract ([`ChangeTokenStore`]): WAF Classic tokens, one
//! outstanding `PROVISIONED` token per scope, used once (`PENDING`), then
//! `INSYNC`, and the values its listing takes. Each backend implements it in
//! its own `change_tokens.rs`.

use async_trait::async_trait;

use super::error::StoreError;
use super::token_key::TokenKey;
use crate::domain::change_token::{
    ChangeTokenScope, ChangeTokenStatus, ChangeTokenSummary, WafEndpoint,
};
use crate::domain::values::{ChangeDescription, ChangeToken, Region};
use crate::domain::{AccountId, Timestamp};

/// Where a listing goes on from: the last token of the previous page, and
/// when it was created (tokens are listed by creation time, newest first,
/// ties broken by token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeTokenPosition {
    pub created_at: Timestamp,
    pub token: ChangeToken,
}

/// One page of `ListChangeTokens`.
#[derive(Debug, Clone)]
pub struct ChangeTokenListQuery {
    pub account: AccountId,
    /// `None` means both endpoints.
    pub endpoint: Option<WafEndpoint>,
    /// `None` means every region. Narrows WAF Regional tokens only: WAF
    /// global tokens have no region.
    pub region: Option<Region>,
    /// Empty means every status.
    pub statuses: Vec<ChangeTokenStatus>,
    /// Only tokens listed after this one (older than it).
    pub after: Option<ChangeTokenPosition>,
    pub limit: u32,
    /// Tokens that went `INSYNC` before this are not listed.
    pub in_sync_visible_since: Timestamp,
}

impl ChangeTokenListQuery {
    /// The stored names of the endpoints to list (both when none is given).
    pub(crate) fn endpoint_names(&self) -> Vec<&'static str> {
        match self.endpoint {
            Some(endpoint) => vec![endpoint.as_str()],
            None => vec![WafEndpoint::Global.as_str(), WafEndpoint::Regional.as_str()],
        }
    }

    /// The region WAF Regional tokens must be in; empty for any region.
    pub(crate) fn region_key(&self) -> &str {
        self.region.as_ref().map_or("", Region::as_str)
    }

    /// The stored names of the statuses to list (all when none is given).
    pub(crate) fn status_names(&self) -> Vec<&'static str> {
        let statuses: &[ChangeTokenStatus] = if self.statuses.is_empty() {
            &ChangeTokenStatus::ALL
        } else {
            &self.statuses
        };
        statuses.iter().map(|status| status.as_str()).collect()
    }

    /// The `(created_at, change_token)` the page starts after, newest first:
    /// for a first page, one past every token (no token is created at the
    /// largest microsecond), so that one statement with one keyset seek
    /// serves every page.
    /// A position naming a token that cannot be stored seeks after `NULL`,
    /// which lists nothing.
    pub(crate) fn seek_after(&self) -> (i64, Option<TokenKey>) {
        self.after
            .as_ref()
            .map_or((i64::MAX, Some(TokenKey::SMALLEST)), |after| {
                (
                    after.created_at.as_micros(),
                    TokenKey::of(after.token.as_str()),
                )
            })
    }

    /// The position that must name a token of the account for the query to
    /// be answered. A token created before `in_sync_visible_since` may have
    /// gone `INSYNC` and been purged since it was listed, so a position that
    /// old is taken as it is (the listing goes on from there; naming a made-up
    /// position can only list the account's own tokens from some point on).
    pub(crate) fn position_to_check(&self) -> Option<&ChangeTokenPosition> {
        self.after
            .as_ref()
            .filter(|after| after.created_at >= self.in_sync_visible_since)
    }
}

#[async_trait]
pub trait ChangeTokenStore: Send + Sync {
    /// Returns the scope's `PROVISIONED` token, or stores `candidate` as that
    /// token when there is none. Atomic across processes: concurrent callers
    /// in one scope all get the same token. `candidate` is a random UUID in
    /// lowercase hyphenated form, the form tokens are keyed by (see
    /// `token_key.rs`); any other string is refused as `Internal`.
    async fn provision_change_token(
        &self,
        scope: &ChangeTokenScope,
        candidate: &ChangeToken,
        now: Timestamp,
    ) -> Result<ChangeToken, StoreError>;

    /// The token's status. `NotFound` for a token of another scope, or one
    /// that went `INSYNC` before `in_sync_visible_since`.
    async fn change_token_status(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        in_sync_visible_since: Timestamp,
    ) -> Result<ChangeTokenStatus, StoreError>;

    /// `PROVISIONED -> PENDING`. Exactly one of concurrent callers succeeds;
    /// the others get `Conflict`. `NotFound` as for `change_token_status`.
    async fn consume_change_token(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        description: &ChangeDescription,
        now: Timestamp,
        in_sync_visible_since: Timestamp,
    ) -> Result<(), StoreError>;

    /// `PENDING -> INSYNC`; an `INSYNC` token stays as it is. `Conflict` for a
    /// token that is still `PROVISIONED`.
    async fn mark_change_token_in_sync(
        &self,
        scope: &ChangeTokenScope,
        token: &ChangeToken,
        now: Timestamp,
        in_sync_visible_since: Timestamp,
    ) -> Result<(), StoreError>;

    /// Up to `query.limit` tokens of the account, newest first (by
    /// `created_at`, then by token, both descending), after `query.after`,
    /// filtered as the query says; a keyset read on the account's index.
    /// `NotFound` when [`ChangeTokenListQuery::position_to_check`] names no
    /// token of the account created at that time (never one of another
    /// account: cursors reveal nothing across accounts).
    async fn list_change_tokens(
        &self,
        query: &ChangeTokenListQuery,
    ) -> Result<Vec<ChangeTokenSummary>, StoreError>;

    /// Deletes up to `batch_size` tokens that went `INSYNC` before `cutoff`;
    /// returns how many it deleted.
    async fn purge_change_tokens(
        &self,
        cutoff: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError>;

    /// Moves up to `batch_size` `PENDING` tokens used at or before
    /// `consumed_at_or_before` to `INSYNC` (as of `now`), oldest use first, in
    /// one statement; returns how many it moved. Safe to run from several
    /// processes at once: each token is moved exactly once, and a caller that
    /// loses a race for some tokens simply moves fewer. A short count means no
    /// more tokens were due when the statement ran.
    async fn mark_change_tokens_in_sync_consumed_before(
        &self,
        consumed_at_or_before: Timestamp,
        now: Timestamp,
        batch_size: u32,
    ) -> Result<u64, StoreError>;
}
