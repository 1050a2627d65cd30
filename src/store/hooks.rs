//! The hook contract ([`HookProgressStore`]): the hook invocations a worker
//! records on a request, which `GetResourceRequestStatus` shows as
//! `HooksProgressEvent`. Each backend implements it in its own `hooks.rs`.

use async_trait::async_trait;

use super::error::StoreError;
use crate::domain::Error;
use crate::domain::Timestamp;
use crate::domain::hooks::HookProgressEvent;
use crate::domain::resource::AccountRegion;
use crate::domain::resource_request::StoredResourceRequest;
use crate::domain::values::RequestToken;

/// Decides, from a request's locked current state, whether a hook event may
/// be recorded (the domain's `decide_hook`).
pub type DecideHook<'a> = dyn Fn(&StoredResourceRequest) -> Result<(), Error> + Send + Sync + 'a;

#[async_trait]
pub trait HookProgressStore: Send + Sync {
    /// Locks the request, lets `decide` accept or refuse from its current
    /// state, and appends `hook` to its hook events in the same
    /// transaction, giving the request `hooks_request_token` if it has none
    /// yet. Returns the request's hooks request token. `NotFound` as for
    /// `get_resource_request`; a refusal comes back as `Rejected` and
    /// nothing is written.
    async fn record_hook_progress_event(
        &self,
        scope: &AccountRegion,
        token: &RequestToken,
        visible_since: Timestamp,
        decide: &DecideHook<'_>,
        hooks_request_token: &str,
        hook: &HookProgressEvent,
    ) -> Result<String, StoreError>;

    /// The request's hook events, oldest first (empty when it has none).
    /// Callers ask only for a request whose current event carries a hooks
    /// request token, and the request's visibility was checked with it.
    async fn list_hook_progress_events(
        &self,
        token: &RequestToken,
    ) -> Result<Vec<HookProgressEvent>, StoreError>;
}
