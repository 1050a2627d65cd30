//! The change-token contract ([`ChangeTokenStore`]): WAF Classic tokens, one
//! outstanding `PROVISIONED` token per scope, used once (`PENDING`), then
//! `INSYNC`. Each backend implements it in its own `change_tokens.rs`.

use async_trait::async_trait;

use super::error::StoreError;
use crate::domain::Timestamp;
use crate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus};
use crate::domain::values::{ChangeDescription, ChangeToken};

#[async_trait]
pub trait ChangeTokenStore: Send + Sync {
    /// Returns the scope's `PROVISIONED` token, or stores `candidate` as that
    /// token when there is none. Atomic across processes: concurrent callers
    /// in one scope all get the same token.
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
