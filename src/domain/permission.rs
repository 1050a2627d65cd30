//! Who may call what: every operation statusgate serves, on either
//! transport, is an [`Action`], and [`Action::required_role`] is the one
//! table of the role each needs. It is a total `match` without a wildcard,
//! so a new action does not compile until it names its role; the transports
//! map their wire names onto actions (`grpc/auth.rs` by method path, with
//! *deny* for a path it does not know; `http/protocol/target.rs` by
//! operation), so an RPC someone forgets to list is refused, not allowed.
//!
//! Decisions:
//! - `ListProgressEvents` is a `client` action: it reads the history of the
//!   caller's own request, which `GetResourceRequestStatus` shows piece by
//!   piece anyway, and changes nothing.
//! - `ConsumeChangeToken`, `MarkChangeTokenInSync` and `RecordProgressEvent`
//!   are what the control plane does and need `worker`.
//! - `ListChangeTokens` is a `client` action, like `GetChangeTokenStatus`:
//!   it reads the statuses of the caller's own account's tokens, one page
//!   at a time, and changes nothing.
//! - Credential management needs `admin`.
//! - `GetResource` and `ListResources` read the caller's own resources:
//!   `client`. `RecordHookProgressEvent` is what the hook runner (a worker)
//!   reports: `worker`. The simulation's rules (`SetSimulationRules`,
//!   `GetSimulationRules`) are configuration of the server, like
//!   credentials: `admin` (and, since they apply to every account, only for
//!   a credential bound to all accounts; `grpc/simulation.rs` checks that).
//! - Claiming requests and renewing their leases are `worker` actions, like
//!   recording progress; waiting for and watching requests and change tokens,
//!   and the `google.longrunning.Operations` methods (a read, a list, a
//!   cancel, a wait of the caller's own requests) are `client` actions.

use super::credential::Role;

/// Every operation statusgate serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    // WAF Classic change tokens.
    GetChangeToken,
    GetChangeTokenStatus,
    ConsumeChangeToken,
    MarkChangeTokenInSync,
    ListChangeTokens,
    // Cloud Control resource requests (the facade's CreateResource,
    // UpdateResource and DeleteResource are CreateResourceRequest).
    CreateResourceRequest,
    GetResourceRequestStatus,
    ListResourceRequests,
    CancelResourceRequest,
    RecordProgressEvent,
    ListProgressEvents,
    ClaimResourceRequests,
    RenewLease,
    WaitResourceRequest,
    WatchResourceRequest,
    WatchChangeToken,
    // google.longrunning.Operations over resource requests.
    GetOperation,
    ListOperations,
    CancelOperation,
    WaitOperation,
    DeleteOperation,
    // Credentials.
    CreateCredential,
    ListCredentials,
    RevokeCredential,
    // Cloud Control resources, hooks and the simulation's rules.
    GetResource,
    ListResources,
    RecordHookProgressEvent,
    SetSimulationRules,
    GetSimulationRules,
}

impl Action {
    pub const ALL: [Self; 29] = [
        Self::GetChangeToken,
        Self::GetChangeTokenStatus,
        Self::ConsumeChangeToken,
        Self::MarkChangeTokenInSync,
        Self::ListChangeTokens,
        Self::CreateResourceRequest,
        Self::GetResourceRequestStatus,
        Self::ListResourceRequests,
        Self::CancelResourceRequest,
        Self::RecordProgressEvent,
        Self::ListProgressEvents,
        Self::ClaimResourceRequests,
        Self::RenewLease,
        Self::WaitResourceRequest,
        Self::WatchResourceRequest,
        Self::WatchChangeToken,
        Self::GetOperation,
        Self::ListOperations,
        Self::CancelOperation,
        Self::WaitOperation,
        Self::DeleteOperation,
        Self::CreateCredential,
        Self::ListCredentials,
        Self::RevokeCredential,
        Self::GetResource,
        Self::ListResources,
        Self::RecordHookProgressEvent,
        Self::SetSimulationRules,
        Self::GetSimulationRules,
    ];

    /// The least role that may perform this action.
    pub const fn required_role(self) -> Role {
        match self {
            Self::GetChangeToken
            | Self::GetChangeTokenStatus
            | Self::ListChangeTokens
            | Self::CreateResourceRequest
            | Self::GetResourceRequestStatus
            | Self::ListResourceRequests
            | Self::CancelResourceRequest
            | Self::ListProgressEvents
            | Self::WaitResourceRequest
            | Self::WatchResourceRequest
            | Self::WatchChangeToken
            | Self::GetOperation
            | Self::ListOperations
            | Self::CancelOperation
            | Self::WaitOperation
            | Self::DeleteOperation
            | Self::GetResource
            | Self::ListResources => Role::Client,
            Self::ConsumeChangeToken
            | Self::MarkChangeTokenInSync
            | Self::RecordProgressEvent
            | Self::ClaimResourceRequests
            | Self::RenewLease
            | Self::RecordHookProgressEvent => Role::Worker,
            Self::CreateCredential
            | Self::ListCredentials
            | Self::RevokeCredential
            | Self::SetSimulationRules
            | Self::GetSimulationRules => Role::Admin,
        }
    }

    /// The name in logs and in denial messages (the gRPC method's name).
    pub const fn name(self) -> &'static str {
        match self {
            Self::GetChangeToken => "GetChangeToken",
            Self::GetChangeTokenStatus => "GetChangeTokenStatus",
            Self::ConsumeChangeToken => "ConsumeChangeToken",
            Self::MarkChangeTokenInSync => "MarkChangeTokenInSync",
            Self::ListChangeTokens => "ListChangeTokens",
            Self::CreateResourceRequest => "CreateResourceRequest",
            Self::GetResourceRequestStatus => "GetResourceRequestStatus",
            Self::ListResourceRequests => "ListResourceRequests",
            Self::CancelResourceRequest => "CancelResourceRequest",
            Self::RecordProgressEvent => "RecordProgressEvent",
            Self::ListProgressEvents => "ListProgressEvents",
            Self::ClaimResourceRequests => "ClaimResourceRequests",
            Self::RenewLease => "RenewLease",
            Self::WaitResourceRequest => "WaitResourceRequest",
            Self::WatchResourceRequest => "WatchResourceRequest",
            Self::WatchChangeToken => "WatchChangeToken",
            Self::GetOperation => "GetOperation",
            Self::ListOperations => "ListOperations",
            Self::CancelOperation => "CancelOperation",
            Self::WaitOperation => "WaitOperation",
            Self::DeleteOperation => "DeleteOperation",
            Self::CreateCredential => "CreateCredential",
            Self::ListCredentials => "ListCredentials",
            Self::RevokeCredential => "RevokeCredential",
            Self::GetResource => "GetResource",
            Self::ListResources => "ListResources",
            Self::RecordHookProgressEvent => "RecordHookProgressEvent",
            Self::SetSimulationRules => "SetSimulationRules",
            Self::GetSimulationRules => "GetSimulationRules",
        }
    }

    /// Whether `role` may perform this action.
    pub fn allows(self, role: Role) -> bool {
        role.includes(self.required_role())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_action_is_allowed_to_its_role_and_those_above_only() {
        // (action, the least role), spelled out so a change to the table is
        // a visible change here.
        let table = [
            (Action::GetChangeToken, Role::Client),
            (Action::GetChangeTokenStatus, Role::Client),
            (Action::ConsumeChangeToken, Role::Worker),
            (Action::MarkChangeTokenInSync, Role::Worker),
            (Action::ListChangeTokens, Role::Client),
            (Action::CreateResourceRequest, Role::Client),
            (Action::GetResourceRequestStatus, Role::Client),
            (Action::ListResourceRequests, Role::Client),
            (Action::CancelResourceRequest, Role::Client),
            (Action::RecordProgressEvent, Role::Worker),
            (Action::ListProgressEvents, Role::Client),
            (Action::ClaimResourceRequests, Role::Worker),
            (Action::RenewLease, Role::Worker),
            (Action::WaitResourceRequest, Role::Client),
            (Action::WatchResourceRequest, Role::Client),
            (Action::WatchChangeToken, Role::Client),
            (Action::GetOperation, Role::Client),
            (Action::ListOperations, Role::Client),
            (Action::CancelOperation, Role::Client),
            (Action::WaitOperation, Role::Client),
            (Action::DeleteOperation, Role::Client),
            (Action::CreateCredential, Role::Admin),
            (Action::ListCredentials, Role::Admin),
            (Action::RevokeCredential, Role::Admin),
            (Action::GetResource, Role::Client),
            (Action::ListResources, Role::Client),
            (Action::RecordHookProgressEvent, Role::Worker),
            (Action::SetSimulationRules, Role::Admin),
            (Action::GetSimulationRules, Role::Admin),
        ];
        assert_eq!(
            table.len(),
            Action::ALL.len(),
            "the table covers every action"
        );
        for (action, least) in table {
            assert_eq!(action.required_role(), least, "{action:?}");
            for role in Role::ALL {
                assert_eq!(action.allows(role), role >= least, "{action:?} by {role:?}");
            }
        }
    }
}
