//! The request and response shapes of the AWS models, as serde types. Inputs
//! hold raw wire values (`Option<String>`, ...): `null` reads as absent,
//! unknown members are ignored, and the domain newtypes check the values in
//! the handlers. Outputs omit absent optional members and write timestamps
//! as epoch seconds with at most three decimals, as every SDK expects.

use serde::{Deserialize, Serialize, Serializer};

use crate::domain::Timestamp;
use crate::domain::hooks::HookProgressEvent;
use crate::domain::resource_request::ProgressEvent;
use crate::service::ResourceDescription;

// ---- WAF and WAF Regional -------------------------------------------------

/// `GetChangeToken` has no members; anything sent is ignored.
#[derive(Debug, Default, Deserialize, Serialize)]
pub struct GetChangeTokenInput {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetChangeTokenOutput {
    pub change_token: String,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetChangeTokenStatusInput {
    pub change_token: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetChangeTokenStatusOutput {
    pub change_token_status: &'static str,
}

// ---- Cloud Control --------------------------------------------------------

/// The input of `GetResourceRequestStatus` and `CancelResourceRequest`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RequestTokenInput {
    pub request_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceRequestStatusFilter {
    pub operations: Option<Vec<String>>,
    pub operation_statuses: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceRequestsInput {
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub resource_request_status_filter: Option<ResourceRequestStatusFilter>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateResourceInput {
    pub type_name: Option<String>,
    pub type_version_id: Option<String>,
    pub role_arn: Option<String>,
    pub client_token: Option<String>,
    pub desired_state: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateResourceInput {
    pub type_name: Option<String>,
    pub type_version_id: Option<String>,
    pub role_arn: Option<String>,
    pub client_token: Option<String>,
    pub identifier: Option<String>,
    pub patch_document: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteResourceInput {
    pub type_name: Option<String>,
    pub type_version_id: Option<String>,
    pub role_arn: Option<String>,
    pub client_token: Option<String>,
    pub identifier: Option<String>,
}

/// A timestamp on the wire: a JSON number of epoch seconds, whole seconds as
/// an integer, otherwise with the milliseconds as three decimals at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochSeconds(pub Timestamp);

impl Serialize for EpochSeconds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let millis = self.0.as_micros().div_euclid(1_000);
        if millis % 1_000 == 0 {
            return serializer.serialize_i64(millis / 1_000);
        }
        // The nearest double to millis / 1000; its shortest round-trip form
        // (what serde_json writes) has at most three decimals.
        serializer.serialize_f64(millis as f64 / 1_000.0)
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProgressEventShape {
    pub type_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    pub request_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hooks_request_token: Option<String>,
    pub operation: &'static str,
    pub operation_status: &'static str,
    pub event_time: EpochSeconds,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<EpochSeconds>,
}

impl From<ProgressEvent> for ProgressEventShape {
    fn from(event: ProgressEvent) -> Self {
        Self {
            type_name: event.type_name,
            identifier: event.identifier,
            request_token: event.request_token,
            hooks_request_token: event.hooks_request_token,
            operation: event.operation.as_str(),
            operation_status: event.operation_status.as_str(),
            event_time: EpochSeconds(event.event_time),
            resource_model: event.resource_model,
            status_message: event.status_message,
            error_code: event.error_code.map(|code| code.as_str()),
            retry_after: event.retry_after.map(EpochSeconds),
        }
    }
}

/// A hook invocation, as a worker recorded it (`RecordHookProgressEvent`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HookProgressEventShape {
    pub hook_type_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_type_version_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_type_arn: Option<String>,
    pub invocation_point: String,
    pub hook_status: String,
    pub hook_event_time: EpochSeconds,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_status_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_mode: Option<String>,
}

impl From<HookProgressEvent> for HookProgressEventShape {
    fn from(hook: HookProgressEvent) -> Self {
        Self {
            hook_type_name: hook.hook_type_name,
            hook_type_version_id: hook.hook_type_version_id,
            hook_type_arn: hook.hook_type_arn,
            invocation_point: hook.invocation_point,
            hook_status: hook.hook_status,
            hook_event_time: EpochSeconds(hook.hook_event_time),
            hook_status_message: hook.hook_status_message,
            failure_mode: hook.failure_mode,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourceRequestStatusOutput {
    pub progress_event: ProgressEventShape,
    pub hooks_progress_event: Vec<HookProgressEventShape>,
}

/// The input of `GetResource`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourceInput {
    pub type_name: Option<String>,
    pub type_version_id: Option<String>,
    pub role_arn: Option<String>,
    pub identifier: Option<String>,
}

/// The input of `ListResources`.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourcesInput {
    pub type_name: Option<String>,
    pub type_version_id: Option<String>,
    pub role_arn: Option<String>,
    pub next_token: Option<String>,
    pub max_results: Option<i64>,
    pub resource_model: Option<String>,
}

/// A resource: its identifier and the JSON text of its properties.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceDescriptionShape {
    pub identifier: String,
    pub properties: String,
}

impl From<ResourceDescription> for ResourceDescriptionShape {
    fn from(description: ResourceDescription) -> Self {
        Self {
            identifier: description.identifier,
            properties: description.properties,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetResourceOutput {
    pub type_name: String,
    pub resource_description: ResourceDescriptionShape,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourcesOutput {
    pub type_name: String,
    pub resource_descriptions: Vec<ResourceDescriptionShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The output of `CreateResource`, `UpdateResource`, `DeleteResource` and
/// `CancelResourceRequest`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProgressEventOutput {
    pub progress_event: ProgressEventShape,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceRequestsOutput {
    pub resource_request_status_summaries: Vec<ProgressEventShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resource_request::{HandlerErrorCode, Operation, OperationStatus};
    use serde_json::json;

    #[test]
    fn timestamps_are_epoch_seconds_with_at_most_three_decimals() {
        // (microseconds, JSON text)
        let table = [
            (1_633_036_800_123_456, "1633036800.123"),
            (1_633_036_800_000_000, "1633036800"),
            (1_633_036_800_999_999, "1633036800.999"),
            (1_633_036_800_010_000, "1633036800.01"),
            (1_633_036_800_100_999, "1633036800.1"),
            (1_000, "0.001"),
            (0, "0"),
        ];
        for (micros, text) in table {
            let json =
                serde_json::to_string(&EpochSeconds(Timestamp::from_micros(micros))).unwrap();
            assert_eq!(json, text, "{micros}");
        }
    }

    #[test]
    fn absent_members_are_omitted_and_present_ones_named_as_in_the_model() {
        let minimal = ProgressEvent {
            type_name: "AWS::Logs::LogGroup".into(),
            identifier: None,
            request_token: "token-1".into(),
            hooks_request_token: None,
            operation: Operation::Create,
            operation_status: OperationStatus::Pending,
            event_time: Timestamp::from_micros(1_500_000),
            resource_model: None,
            status_message: None,
            error_code: None,
            retry_after: None,
        };
        let output = GetResourceRequestStatusOutput {
            progress_event: minimal.clone().into(),
            hooks_progress_event: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&output).unwrap(),
            json!({
                "ProgressEvent": {
                    "TypeName": "AWS::Logs::LogGroup",
                    "RequestToken": "token-1",
                    "Operation": "CREATE",
                    "OperationStatus": "PENDING",
                    "EventTime": 1.5,
                },
                "HooksProgressEvent": [],
            })
        );
        let failed = ProgressEvent {
            identifier: Some("group-1".into()),
            operation_status: OperationStatus::Failed,
            resource_model: Some("{}".into()),
            status_message: Some("boom".into()),
            error_code: Some(HandlerErrorCode::NotFound),
            retry_after: Some(Timestamp::from_micros(2_000_000)),
            ..minimal
        };
        let shape = serde_json::to_value(ProgressEventShape::from(failed)).unwrap();
        assert_eq!(shape["Identifier"], "group-1");
        assert_eq!(shape["OperationStatus"], "FAILED");
        assert_eq!(shape["ResourceModel"], "{}");
        assert_eq!(shape["StatusMessage"], "boom");
        assert_eq!(shape["ErrorCode"], "NotFound");
        assert_eq!(shape["RetryAfter"], 2);
        let page = ListResourceRequestsOutput {
            resource_request_status_summaries: Vec::new(),
            next_token: None,
        };
        assert_eq!(
            serde_json::to_value(page).unwrap(),
            json!({"ResourceRequestStatusSummaries": []})
        );
    }
}
