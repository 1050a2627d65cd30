//! The claiming contract ([`ResourceRequestLeases`]): handing claimable
//! requests to workers under leases. Renewals and the lease holder's
//! progress go through `ResourceRequestStore::update_resource_request`
//! (a `Decision::Leased`); only claiming needs a method of its own, since it
//! picks its requests rather than being told one. Each backend implements it
//! in its own `leases.rs`.

use async_trait::async_trait;

use super::error::StoreError;
use crate::domain::lease::Claim;
use crate::domain::resource_request::StoredResourceRequest;
use crate::domain::values::{Region, TypeNamePrefix};
use crate::domain::{AccountId, Timestamp};

/// Decides, from a locked claimable request, what claiming it writes (the
/// domain's `decide_claim`, with a fresh lease).
pub type DecideClaim<'a> = dyn Fn(&StoredResourceRequest) -> Claim + Send + Sync + 'a;

/// Which requests one claim may hand out.
#[derive(Debug, Clone)]
pub struct ClaimQuery {
    /// `None`: every account.
    pub account: Option<AccountId>,
    /// `None`: every region.
    pub region: Option<Region>,
    pub type_name_prefix: Option<TypeNamePrefix>,
    /// Leases that expire at or before this instant are expired.
    pub now: Timestamp,
    /// Only requests whose latest event is at or before this instant.
    pub last_event_at_or_before: Timestamp,
    /// Only requests created at or after this instant (the others expired).
    pub visible_since: Timestamp,
    pub limit: u32,
}

#[async_trait]
pub trait ResourceRequestLeases: Send + Sync {
    /// Claims up to `query.limit` claimable requests (the domain's
    /// `is_claimable` at `query.now`) that match the query, oldest first (by
    /// creation order), in one transaction: each gets the lease `decide`
    /// gives it and, when `decide` says so, its event appended (and
    /// notified). Returns the claimed requests as they are afterwards.
    ///
    /// Atomic across processes: two concurrent claims never hand out the
    /// same request; a request another claim is taking is skipped, not
    /// waited for (`FOR UPDATE SKIP LOCKED` on Postgres; SQLite's single
    /// writer serialises claims). Fewer than `limit` means nothing else was
    /// claimable when the claim ran.
    async fn claim_resource_requests(
        &self,
        query: &ClaimQuery,
        decide: &DecideClaim<'_>,
    ) -> Result<Vec<StoredResourceRequest>, StoreError>;
}
