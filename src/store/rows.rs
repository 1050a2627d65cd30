//! Rows as both backends return them, mapped by column name
//! (`sqlx::FromRow`), and their conversion to domain values. Each read
//! selects the smallest row that answers it: an event, a status, a listed
//! request, or the whole request.
//!
//! A stored value that no longer parses is reported as `Internal`: it means
//! the database was written by something other than statusgate. The two
//! JSON documents of a request's input are the exception: they were parsed
//! before they were written, and re-parsing up to 2 × 256 KiB on every read
//! would only confirm that, so they are read back as trusted.

use std::time::Duration;

use crate::domain::change_token::{
    ChangeTokenScope, ChangeTokenStatus, ChangeTokenSummary, WafEndpoint,
};
use crate::domain::hooks::HookProgressEvent;
use crate::domain::lease::Lease;
use crate::domain::resource::{AccountRegion, StoredResource};
use crate::domain::resource_request::{
    HandlerErrorCode, NewResourceRequest, NumberedEvent, Operation, OperationStatus, ProgressEvent,
    ResourceRequestInput, StoredResourceRequest,
};
use crate::domain::values::{
    ChangeToken, ClientToken, Identifier, JsonDocument, LeaseToken, Region, RoleArn, TypeName,
    TypeVersionId, WorkerId,
};
use crate::domain::{AccountId, FieldViolation, Timestamp};

use super::error::StoreError;
use super::resource_requests::{ListedRequest, RequestStatus};
use super::token_key::TokenKey;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} {value:?} is not valid"))
}

fn parse_stored<T>(
    value: &str,
    what: &str,
    parse: impl Fn(String) -> Result<T, FieldViolation>,
) -> Result<T, StoreError> {
    parse(value.to_owned()).map_err(|_| corrupt(what, value))
}

fn parse_stored_optional<T>(
    value: Option<String>,
    what: &str,
    parse: impl Fn(String) -> Result<T, FieldViolation>,
) -> Result<Option<T>, StoreError> {
    value
        .map(|value| parse_stored(&value, what, &parse))
        .transpose()
}

fn parse_operation(value: &str) -> Result<Operation, StoreError> {
    Operation::from_aws(value).ok_or_else(|| corrupt("operation", value))
}

fn parse_status(value: &str) -> Result<OperationStatus, StoreError> {
    OperationStatus::from_aws(value).ok_or_else(|| corrupt("operation status", value))
}

fn parse_error_code(value: Option<&str>) -> Result<Option<HandlerErrorCode>, StoreError> {
    value
        .map(|code| HandlerErrorCode::from_aws(code).ok_or_else(|| corrupt("error code", code)))
        .transpose()
}

/// A progress event: a `progress_events` row joined with its request's fixed
/// members (`type_name`, `operation`), or the current event that
/// `resource_requests` keeps a copy of, under the same column names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct EventRow {
    pub request_token: TokenKey,
    pub type_name: String,
    pub operation: String,
    pub operation_status: String,
    pub identifier: Option<String>,
    pub resource_model: Option<String>,
    pub status_message: Option<String>,
    pub error_code: Option<String>,
    pub retry_after: Option<i64>,
    pub event_time: i64,
    /// The request's, set with its first hook event.
    pub hooks_request_token: Option<String>,
}

impl EventRow {
    pub fn into_event(self) -> Result<ProgressEvent, StoreError> {
        Ok(ProgressEvent {
            operation: parse_operation(&self.operation)?,
            operation_status: parse_status(&self.operation_status)?,
            error_code: parse_error_code(self.error_code.as_deref())?,
            type_name: self.type_name,
            identifier: self.identifier,
            request_token: self.request_token.to_token_string(),
            hooks_request_token: self.hooks_request_token,
            event_time: Timestamp::from_micros(self.event_time),
            resource_model: self.resource_model,
            status_message: self.status_message,
            retry_after: self.retry_after.map(Timestamp::from_micros),
        })
    }
}

/// An event of a request's history with its number (`progress_events.seq`).
#[derive(Debug, sqlx::FromRow)]
pub(super) struct NumberedEventRow {
    pub seq: i64,
    #[sqlx(flatten)]
    pub event: EventRow,
}

impl NumberedEventRow {
    pub fn into_numbered(self) -> Result<NumberedEvent, StoreError> {
        Ok(NumberedEvent {
            number: self.seq,
            event: self.event.into_event()?,
        })
    }
}

/// What a status read selects from `resource_requests`: the current event,
/// and the owner (account and region) and creation time that decide who
/// may see it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct StatusRow {
    #[sqlx(flatten)]
    pub current: EventRow,
    pub account_id: String,
    pub region: String,
    pub created_at: i64,
}

impl StatusRow {
    /// Whether a caller in `scope` may see this request at a time when
    /// requests created before `visible_since` have expired.
    pub fn is_visible_to(&self, scope: &AccountRegion, visible_since: Timestamp) -> bool {
        self.account_id == scope.account.as_str()
            && self.region == scope.region.as_str()
            && self.created_at >= visible_since.as_micros()
    }

    pub fn into_status(self) -> Result<RequestStatus, StoreError> {
        Ok(RequestStatus {
            current: self.current.into_event()?,
            created_at: Timestamp::from_micros(self.created_at),
        })
    }
}

/// A listed request: when it was recorded and its current event.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct ListedRow {
    pub created_at: i64,
    #[sqlx(flatten)]
    pub current: EventRow,
}

impl ListedRow {
    pub fn into_listed(self) -> Result<ListedRequest, StoreError> {
        Ok(ListedRequest {
            created_at: Timestamp::from_micros(self.created_at),
            event: self.current.into_event()?,
        })
    }
}

/// A whole `resource_requests` row (`SELECT *`; columns the struct does not
/// name are ignored), lease included.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct RequestRow {
    #[sqlx(flatten)]
    pub status: StatusRow,
    pub client_token: Option<String>,
    pub requested_identifier: Option<String>,
    pub desired_state: Option<String>,
    pub patch_document: Option<String>,
    pub role_arn: Option<String>,
    pub type_version_id: Option<String>,
    pub event_count: i64,
    /// The lease columns are all set or all `NULL`.
    pub lease_token: Option<String>,
    pub lease_worker_id: Option<String>,
    pub lease_expires_at: Option<i64>,
    /// Microseconds.
    pub lease_duration: Option<i64>,
}

impl RequestRow {
    fn lease(&self) -> Result<Option<Lease>, StoreError> {
        match (
            &self.lease_token,
            &self.lease_worker_id,
            self.lease_expires_at,
            self.lease_duration,
        ) {
            (None, None, None, None) => Ok(None),
            (Some(token), Some(worker_id), Some(expires_at), Some(duration)) => Ok(Some(Lease {
                token: parse_stored(token, "lease token", LeaseToken::parse)?,
                worker_id: parse_stored(worker_id, "worker id", WorkerId::parse)?,
                expires_at: Timestamp::from_micros(expires_at),
                duration: Duration::from_micros(u64::try_from(duration).unwrap_or(0)),
            })),
            _ => Err(corrupt(
                "lease",
                &format!("{:?}", (&self.lease_token, &self.lease_worker_id)),
            )),
        }
    }

    pub fn into_stored(self) -> Result<StoredResourceRequest, StoreError> {
        let lease = self.lease()?;
        let StatusRow {
            current,
            account_id,
            region,
            created_at,
        } = self.status;
        let current = current.into_event()?;
        let input = ResourceRequestInput {
            operation: current.operation,
            type_name: parse_stored(&current.type_name, "type name", TypeName::parse)?,
            identifier: parse_stored_optional(
                self.requested_identifier,
                "identifier",
                Identifier::parse,
            )?,
            desired_state: self.desired_state.map(JsonDocument::from_trusted_store),
            patch_document: self.patch_document.map(JsonDocument::from_trusted_store),
            role_arn: parse_stored_optional(self.role_arn, "role arn", RoleArn::parse)?,
            type_version_id: parse_stored_optional(
                self.type_version_id,
                "type version id",
                TypeVersionId::parse,
            )?,
        };
        Ok(StoredResourceRequest {
            scope: AccountRegion::new(
                parse_stored(&account_id, "account", AccountId::parse)?,
                parse_stored(&region, "region", Region::parse)?,
            ),
            client_token: parse_stored_optional(
                self.client_token,
                "client token",
                ClientToken::parse,
            )?,
            input,
            current,
            event_count: self.event_count,
            created_at: Timestamp::from_micros(created_at),
            lease,
        })
    }
}

/// The four lease columns of `lease` (`NULL`s for none), in their order in
/// the statements: token, worker id, expiry, duration (microseconds).
pub(super) fn lease_columns(
    lease: Option<&Lease>,
) -> (Option<&str>, Option<&str>, Option<i64>, Option<i64>) {
    match lease {
        Some(lease) => (
            Some(lease.token.as_str()),
            Some(lease.worker_id.as_str()),
            Some(lease.expires_at.as_micros()),
            Some(i64::try_from(lease.duration.as_micros()).unwrap_or(i64::MAX)),
        ),
        None => (None, None, None, None),
    }
}

/// A request as its insert just stored it: `PENDING` with its first event.
/// Built from the request rather than read back, since the row holds exactly
/// these values.
pub(super) fn inserted_request(request: NewResourceRequest) -> StoredResourceRequest {
    let current = request.first_event();
    StoredResourceRequest {
        scope: request.scope,
        client_token: request.client_token,
        input: request.input,
        current,
        event_count: 1,
        created_at: request.created_at,
        lease: None,
    }
}

/// A change token as `GetChangeToken`'s upsert returns it.
pub(super) fn stored_change_token(token: TokenKey) -> Result<ChangeToken, StoreError> {
    parse_stored(&token.to_token_string(), "change token", ChangeToken::parse)
}

/// The columns of `change_tokens` a status lookup needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct ChangeTokenRow {
    pub change_token: TokenKey,
    pub account_id: String,
    pub endpoint: String,
    pub region: String,
    pub status: String,
    pub insync_at: Option<i64>,
}

impl ChangeTokenRow {
    /// The token's status as a caller in `scope` sees it: `None` for a token
    /// of another scope, or one that went INSYNC before `in_sync_visible_since`.
    pub fn status_seen_from(
        &self,
        scope: &ChangeTokenScope,
        in_sync_visible_since: Timestamp,
    ) -> Result<Option<ChangeTokenStatus>, StoreError> {
        let same_scope = self.account_id == scope.account().as_str()
            && self.endpoint == scope.endpoint().as_str()
            && self.region == scope.region_key();
        if !same_scope {
            return Ok(None);
        }
        let status = ChangeTokenStatus::from_stored(&self.status)
            .ok_or_else(|| corrupt("change token status", &self.status))?;
        let expired = status == ChangeTokenStatus::InSync
            && self
                .insync_at
                .is_some_and(|at| at < in_sync_visible_since.as_micros());
        Ok((!expired).then_some(status))
    }
}

/// A listed `change_tokens` row: the status lookup's columns and the times
/// and description a listing shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct ListedChangeTokenRow {
    #[sqlx(flatten)]
    pub token: ChangeTokenRow,
    pub change_description: Option<String>,
    pub created_at: i64,
    pub consumed_at: Option<i64>,
}

impl ListedChangeTokenRow {
    pub fn into_summary(self) -> Result<ChangeTokenSummary, StoreError> {
        let ChangeTokenRow {
            change_token,
            account_id,
            endpoint,
            region,
            status,
            insync_at,
        } = self.token;
        let account = parse_stored(&account_id, "account", AccountId::parse)?;
        let scope = match WafEndpoint::from_stored(&endpoint) {
            Some(WafEndpoint::Global) => ChangeTokenScope::global(account),
            Some(WafEndpoint::Regional) => {
                ChangeTokenScope::regional(account, parse_stored(&region, "region", Region::parse)?)
            }
            None => return Err(corrupt("endpoint", &endpoint)),
        };
        Ok(ChangeTokenSummary {
            token: stored_change_token(change_token)?,
            scope,
            status: ChangeTokenStatus::from_stored(&status)
                .ok_or_else(|| corrupt("change token status", &status))?,
            change_description: self.change_description,
            created_at: Timestamp::from_micros(self.created_at),
            consumed_at: self.consumed_at.map(Timestamp::from_micros),
            insync_at: insync_at.map(Timestamp::from_micros),
        })
    }
}

/// A `resources` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct ResourceRow {
    pub type_name: String,
    pub identifier: String,
    pub properties: String,
}

impl ResourceRow {
    pub fn into_resource(self) -> StoredResource {
        StoredResource {
            type_name: self.type_name,
            identifier: self.identifier,
            properties: self.properties,
        }
    }
}

/// A `hook_progress_events` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct HookRow {
    pub hook_type_name: String,
    pub hook_type_version_id: Option<String>,
    pub hook_type_arn: Option<String>,
    pub invocation_point: String,
    pub hook_status: String,
    pub hook_event_time: i64,
    pub hook_status_message: Option<String>,
    pub failure_mode: Option<String>,
}

impl HookRow {
    pub fn into_event(self) -> HookProgressEvent {
        HookProgressEvent {
            hook_type_name: self.hook_type_name,
            hook_type_version_id: self.hook_type_version_id,
            hook_type_arn: self.hook_type_arn,
            invocation_point: self.invocation_point,
            hook_status: self.hook_status,
            hook_event_time: Timestamp::from_micros(self.hook_event_time),
            hook_status_message: self.hook_status_message,
            failure_mode: self.failure_mode,
        }
    }
}
