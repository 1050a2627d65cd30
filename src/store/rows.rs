//! Rows as both backends return them, and their conversion to domain values.
//! A stored value that no longer parses is reported as `Internal`: it means
//! the database was written by something other than statusgate.

use crate::domain::change_token::{ChangeTokenScope, ChangeTokenStatus};
use crate::domain::resource_request::{
    HandlerErrorCode, Operation, OperationStatus, ProgressEvent, ResourceRequestInput,
    StoredResourceRequest,
};
use crate::domain::values::{
    ClientToken, Identifier, JsonDocument, RoleArn, TypeName, TypeVersionId,
};
use crate::domain::{AccountId, FieldViolation, Timestamp};

use super::StoreError;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Internal(format!("stored {what} {value:?} is not valid"))
}

fn stored<T>(parsed: Result<T, FieldViolation>, what: &str, value: &str) -> Result<T, StoreError> {
    parsed.map_err(|_| corrupt(what, value))
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

/// Every column of `resource_requests`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct RequestRow {
    pub seq: i64,
    pub request_token: String,
    pub account_id: String,
    pub client_token: Option<String>,
    pub operation: String,
    pub type_name: String,
    pub requested_identifier: Option<String>,
    pub desired_state: Option<String>,
    pub patch_document: Option<String>,
    pub role_arn: Option<String>,
    pub type_version_id: Option<String>,
    pub operation_status: String,
    pub identifier: Option<String>,
    pub resource_model: Option<String>,
    pub status_message: Option<String>,
    pub error_code: Option<String>,
    pub retry_after: Option<i64>,
    pub event_time: i64,
    pub event_count: i64,
    pub created_at: i64,
}

impl RequestRow {
    /// Whether `account` may see this request at a time when requests
    /// created before `visible_since` have expired.
    pub fn is_visible_to(&self, account: &AccountId, visible_since: Timestamp) -> bool {
        self.account_id == account.as_str() && self.created_at >= visible_since.as_micros()
    }

    pub fn current_event(&self) -> Result<ProgressEvent, StoreError> {
        Ok(ProgressEvent {
            type_name: self.type_name.clone(),
            identifier: self.identifier.clone(),
            request_token: self.request_token.clone(),
            hooks_request_token: None,
            operation: parse_operation(&self.operation)?,
            operation_status: parse_status(&self.operation_status)?,
            event_time: Timestamp::from_micros(self.event_time),
            resource_model: self.resource_model.clone(),
            status_message: self.status_message.clone(),
            error_code: parse_error_code(self.error_code.as_deref())?,
            retry_after: self.retry_after.map(Timestamp::from_micros),
        })
    }

    pub fn into_stored(self) -> Result<StoredResourceRequest, StoreError> {
        let current = self.current_event()?;
        let input = ResourceRequestInput {
            operation: current.operation,
            type_name: stored(
                TypeName::parse(self.type_name.as_str()),
                "type name",
                &self.type_name,
            )?,
            identifier: self
                .requested_identifier
                .map(|value| stored(Identifier::parse(value.as_str()), "identifier", &value))
                .transpose()?,
            desired_state: self
                .desired_state
                .map(|value| {
                    stored(
                        JsonDocument::parse("DesiredState", value.as_str()),
                        "desired state",
                        &value,
                    )
                })
                .transpose()?,
            patch_document: self
                .patch_document
                .map(|value| {
                    stored(
                        JsonDocument::parse("PatchDocument", value.as_str()),
                        "patch document",
                        &value,
                    )
                })
                .transpose()?,
            role_arn: self
                .role_arn
                .map(|value| stored(RoleArn::parse(value.as_str()), "role arn", &value))
                .transpose()?,
            type_version_id: self
                .type_version_id
                .map(|value| {
                    stored(
                        TypeVersionId::parse(value.as_str()),
                        "type version id",
                        &value,
                    )
                })
                .transpose()?,
        };
        Ok(StoredResourceRequest {
            account: stored(
                AccountId::parse(self.account_id.as_str()),
                "account",
                &self.account_id,
            )?,
            client_token: self
                .client_token
                .map(|value| stored(ClientToken::parse(value.as_str()), "client token", &value))
                .transpose()?,
            input,
            current,
            event_count: self.event_count,
            created_at: Timestamp::from_micros(self.created_at),
        })
    }
}

/// A `progress_events` row joined with its request's fixed members.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct EventRow {
    pub request_token: String,
    pub type_name: String,
    pub operation: String,
    pub operation_status: String,
    pub identifier: Option<String>,
    pub resource_model: Option<String>,
    pub status_message: Option<String>,
    pub error_code: Option<String>,
    pub retry_after: Option<i64>,
    pub event_time: i64,
}

impl EventRow {
    pub fn into_event(self) -> Result<ProgressEvent, StoreError> {
        Ok(ProgressEvent {
            operation: parse_operation(&self.operation)?,
            operation_status: parse_status(&self.operation_status)?,
            error_code: parse_error_code(self.error_code.as_deref())?,
            type_name: self.type_name,
            identifier: self.identifier,
            request_token: self.request_token,
            hooks_request_token: None,
            event_time: Timestamp::from_micros(self.event_time),
            resource_model: self.resource_model,
            status_message: self.status_message,
            retry_after: self.retry_after.map(Timestamp::from_micros),
        })
    }
}

/// The columns of `change_tokens` a status lookup needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct ChangeTokenRow {
    pub change_token: String,
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
