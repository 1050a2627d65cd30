//! Cloud Control resources: what exists once a request has succeeded. A
//! resource is named by the account and region it lives in
//! ([`AccountRegion`], the scope of every Cloud Control call), its type and
//! its primary identifier; it holds the resource model of the last `CREATE`
//! or `UPDATE` that reached `SUCCESS` ([`ResourceChange::on_success`]), and a
//! `DELETE` that reached `SUCCESS` removes it.
//!
//! Also here: RFC 6902 JSON Patch documents ([`ResourcePatch`], parsed and
//! applied by the `json-patch` crate), and the containment test of
//! `ListResources`' `ResourceModel` filter ([`properties_contain`]).

use serde_json::Value;

use super::resource_request::{Operation, OperationStatus, ProgressEvent, StoredResourceRequest};
use super::values::{AccountId, Identifier, JsonDocument, Region, TypeName};
use super::{Error, ErrorCode, FieldViolation};

/// The region of callers that name none, unless `--default-region` says
/// otherwise; also the region of requests recorded before regions existed.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Where a Cloud Control call acts: requests, client tokens, listings and
/// resources of one account and region are invisible from any other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountRegion {
    pub account: AccountId,
    pub region: Region,
}

impl AccountRegion {
    pub fn new(account: AccountId, region: Region) -> Self {
        Self { account, region }
    }
}

/// A resource as the store keeps it: its model with every property,
/// write-only ones included (callers see [`ResourceTypeFacts::without_write_only`]
/// of it).
///
/// [`ResourceTypeFacts::without_write_only`]: super::resource_types::ResourceTypeFacts::without_write_only
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResource {
    pub type_name: String,
    pub identifier: String,
    /// JSON text of the resource model.
    pub properties: String,
}

/// What a request's `SUCCESS` does to its resource, written in the same
/// transaction as the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceChange {
    /// The resource now has these properties (created or replaced).
    Put {
        type_name: String,
        identifier: String,
        properties: String,
    },
    /// The resource is gone.
    Remove {
        type_name: String,
        identifier: String,
    },
}

impl ResourceChange {
    /// The change `event` makes when it is appended to `request`: none
    /// unless it is the request's `SUCCESS`. The identifier is the event's
    /// (or, for an update or delete, the one the caller named); without one
    /// nothing can be recorded. A `CREATE` takes the event's model, or the
    /// desired state when the worker reported none; an `UPDATE` without a
    /// reported model leaves the resource as it is.
    pub fn on_success(request: &StoredResourceRequest, event: &ProgressEvent) -> Option<Self> {
        if event.operation_status != OperationStatus::Success
            || request.current.operation_status == OperationStatus::Success
        {
            return None;
        }
        let identifier = event.identifier.clone().or_else(|| {
            request
                .input
                .identifier
                .as_ref()
                .map(|identifier| identifier.as_str().to_owned())
        })?;
        let type_name = request.input.type_name.as_str().to_owned();
        match request.input.operation {
            Operation::Create => {
                let properties = event
                    .resource_model
                    .clone()
                    .or_else(|| {
                        request
                            .input
                            .desired_state
                            .as_ref()
                            .map(|state| state.as_str().to_owned())
                    })
                    .unwrap_or_else(|| "{}".to_owned());
                Some(Self::Put {
                    type_name,
                    identifier,
                    properties,
                })
            }
            Operation::Update => event.resource_model.clone().map(|properties| Self::Put {
                type_name,
                identifier,
                properties,
            }),
            Operation::Delete => Some(Self::Remove {
                type_name,
                identifier,
            }),
        }
    }
}

/// `ConcurrentOperationException`: an `UPDATE` or `DELETE` of the resource
/// is still under way.
pub fn concurrent_operation(type_name: &TypeName, identifier: &Identifier) -> Error {
    Error::new(
        ErrorCode::ConcurrentOperation,
        format!(
            "Another resource operation is currently being performed on this resource: {type_name} with identifier {identifier}"
        ),
    )
}

/// `ResourceNotFoundException`, in the wording of CloudFormation handlers.
pub fn resource_not_found(type_name: &str, identifier: &str) -> Error {
    Error::new(
        ErrorCode::ResourceNotFound,
        not_found_message(type_name, identifier),
    )
}

/// "Resource of type 'T' with identifier 'I' was not found."
pub fn not_found_message(type_name: &str, identifier: &str) -> String {
    format!("Resource of type '{type_name}' with identifier '{identifier}' was not found.")
}

/// "Resource of type 'T' with identifier 'I' already exists."
pub fn already_exists_message(type_name: &str, identifier: &str) -> String {
    format!("Resource of type '{type_name}' with identifier '{identifier}' already exists.")
}

/// `TypeNotFoundException`, as Cloud Control words it.
pub fn type_not_found(type_name: &TypeName) -> Error {
    Error::new(
        ErrorCode::TypeNotFound,
        format!("The type '{type_name}' cannot be found."),
    )
}

/// An RFC 6902 JSON Patch: an array of operations, each with a valid `op`
/// and JSON pointer `path` (and `from`, `value` where the operation needs
/// them).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePatch(json_patch::Patch);

impl ResourcePatch {
    pub const MEMBER: &'static str = "PatchDocument";

    /// Parses a `PatchDocument`; anything but a JSON Patch is a violation
    /// naming the member.
    pub fn parse(document: &JsonDocument) -> Result<Self, FieldViolation> {
        serde_json::from_str::<json_patch::Patch>(document.as_str())
            .map(Self)
            .map_err(|error| {
                FieldViolation::invalid(
                    Self::MEMBER,
                    document.as_str(),
                    format!("Member must be a JSON Patch document (RFC 6902): {error}"),
                )
            })
    }

    /// `model` with the patch applied; why not, when an operation cannot
    /// apply (a `remove` of a missing member, a failed `test`).
    pub fn apply_to(&self, model: &Value) -> Result<Value, String> {
        let mut patched = model.clone();
        json_patch::patch(&mut patched, &self.0).map_err(|error| error.to_string())?;
        Ok(patched)
    }

    /// Every path the patch changes, as decoded keys (`/Tags/0/Key` is
    /// `["Tags", "0", "Key"]`): each operation's `path` but a `test`'s, and
    /// the `from` of a `move`, which removes it.
    pub fn changed_paths(&self) -> Vec<Vec<String>> {
        let keys = |pointer: &json_patch::jsonptr::Pointer| -> Vec<String> {
            pointer
                .tokens()
                .map(|token| token.decoded().into_owned())
                .collect()
        };
        let mut paths = Vec::new();
        for operation in &self.0.0 {
            match operation {
                json_patch::PatchOperation::Test(_) => {}
                json_patch::PatchOperation::Move(moved) => {
                    paths.push(keys(&moved.from));
                    paths.push(keys(&moved.path));
                }
                other => paths.push(keys(other.path())),
            }
        }
        paths
    }
}

/// Whether `properties` contain every member of `wanted`: objects member
/// by member (recursively), anything else (arrays, strings, numbers,
/// booleans, `null`) by equality.
pub fn properties_contain(properties: &Value, wanted: &Value) -> bool {
    match (properties, wanted) {
        (Value::Object(have), Value::Object(want)) => want.iter().all(|(key, wanted_value)| {
            have.get(key)
                .is_some_and(|value| properties_contain(value, wanted_value))
        }),
        (have, want) => have == want,
    }
}

/// A `ResourceModel` filter: a JSON object.
pub fn parse_model_filter(document: &JsonDocument) -> Result<Value, FieldViolation> {
    match serde_json::from_str::<Value>(document.as_str()) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(FieldViolation::invalid(
            "ResourceModel",
            document.as_str(),
            "Member must be a JSON object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::domain::resource_request::ResourceRequestInput;
    use serde_json::json;

    fn patch(text: &str) -> Result<ResourcePatch, FieldViolation> {
        ResourcePatch::parse(&JsonDocument::parse("PatchDocument", text).unwrap())
    }

    #[test]
    fn patches_must_be_rfc_6902() {
        assert!(patch(r#"[{"op":"replace","path":"/RetentionInDays","value":7}]"#).is_ok());
        assert!(patch("[]").is_ok());
        for bad in [
            r#"{"op":"replace","path":"/a","value":1}"#,
            r#"[{"op":"frobnicate","path":"/a"}]"#,
            r#"[{"op":"replace","path":"a","value":1}]"#,
            r#"[{"op":"add","path":"/a"}]"#,
            r#"[{"op":"move","path":"/a"}]"#,
            r#"[{"path":"/a"}]"#,
            r#""text""#,
        ] {
            let violation = patch(bad).unwrap_err();
            assert_eq!(violation.member, "PatchDocument", "{bad}");
            assert!(
                violation
                    .constraint
                    .starts_with("Member must be a JSON Patch document (RFC 6902)"),
                "{bad}: {}",
                violation.constraint
            );
        }
    }

    #[test]
    fn patches_apply_and_name_what_they_change() {
        let patch = patch(
            r#"[{"op":"replace","path":"/RetentionInDays","value":14},
                {"op":"add","path":"/Tags","value":[{"Key":"a~b/c","Value":"1"}]},
                {"op":"test","path":"/LogGroupName","value":"app"},
                {"op":"move","from":"/Old","path":"/New"}]"#,
        )
        .unwrap();
        let model = json!({"LogGroupName": "app", "RetentionInDays": 7, "Old": 1});
        assert_eq!(
            patch.apply_to(&model).unwrap(),
            json!({"LogGroupName": "app", "RetentionInDays": 14,
                   "Tags": [{"Key": "a~b/c", "Value": "1"}], "New": 1})
        );
        assert_eq!(
            patch.changed_paths(),
            vec![
                vec!["RetentionInDays".to_owned()],
                vec!["Tags".to_owned()],
                vec!["Old".to_owned()],
                vec!["New".to_owned()],
            ]
        );
        let failing = self::patch(r#"[{"op":"remove","path":"/Missing"}]"#).unwrap();
        assert!(failing.apply_to(&model).is_err());
        let escaped = self::patch(r#"[{"op":"remove","path":"/a~1b~0c"}]"#).unwrap();
        assert_eq!(escaped.changed_paths(), vec![vec!["a/b~c".to_owned()]]);
    }

    #[test]
    fn containment_is_member_by_member_and_exact_below_objects() {
        let properties = json!({"Name": "a", "Tags": [{"Key": "k"}], "Nested": {"X": 1, "Y": 2}});
        // (filter, matches)
        let table = [
            (json!({}), true),
            (json!({"Name": "a"}), true),
            (json!({"Name": "b"}), false),
            (json!({"Nested": {"X": 1}}), true),
            (json!({"Nested": {"X": 2}}), false),
            (json!({"Tags": [{"Key": "k"}]}), true),
            (json!({"Tags": []}), false),
            (json!({"Missing": null}), false),
            (json!({"Name": "a", "Nested": {"Y": 2}}), true),
        ];
        for (filter, matches) in table {
            assert_eq!(
                properties_contain(&properties, &filter),
                matches,
                "{filter}"
            );
        }
        let filter =
            |text: &str| parse_model_filter(&JsonDocument::parse("ResourceModel", text).unwrap());
        assert!(filter(r#"{"Name":"a"}"#).is_ok());
        assert_eq!(filter("[1]").unwrap_err().member, "ResourceModel");
    }

    fn request(operation: Operation, status: OperationStatus) -> StoredResourceRequest {
        StoredResourceRequest {
            scope: AccountRegion::new(
                AccountId::parse("123456789012").unwrap(),
                Region::parse("eu-west-1").unwrap(),
            ),
            client_token: None,
            input: ResourceRequestInput {
                operation,
                type_name: TypeName::parse("AWS::Logs::LogGroup").unwrap(),
                identifier: (operation != Operation::Create)
                    .then(|| Identifier::parse("app").unwrap()),
                desired_state: (operation == Operation::Create).then(|| {
                    JsonDocument::parse("DesiredState", r#"{"LogGroupName":"app"}"#).unwrap()
                }),
                patch_document: None,
                role_arn: None,
                type_version_id: None,
            },
            current: ProgressEvent {
                type_name: "AWS::Logs::LogGroup".into(),
                identifier: None,
                request_token: "t".into(),
                hooks_request_token: None,
                operation,
                operation_status: status,
                event_time: Timestamp::from_micros(1),
                resource_model: None,
                status_message: None,
                error_code: None,
                retry_after: None,
            },
            event_count: 2,
            created_at: Timestamp::from_micros(1),
            lease: None,
        }
    }

    #[test]
    fn only_a_success_changes_the_resource() {
        let create = request(Operation::Create, OperationStatus::InProgress);
        let success = ProgressEvent {
            identifier: Some("app".into()),
            operation_status: OperationStatus::Success,
            ..create.current.clone()
        };
        assert_eq!(
            ResourceChange::on_success(&create, &success),
            Some(ResourceChange::Put {
                type_name: "AWS::Logs::LogGroup".into(),
                identifier: "app".into(),
                properties: r#"{"LogGroupName":"app"}"#.into(),
            })
        );
        let failed = ProgressEvent {
            operation_status: OperationStatus::Failed,
            ..success.clone()
        };
        assert_eq!(ResourceChange::on_success(&create, &failed), None);
        let no_identifier = ProgressEvent {
            identifier: None,
            ..success.clone()
        };
        assert_eq!(ResourceChange::on_success(&create, &no_identifier), None);

        let delete = request(Operation::Delete, OperationStatus::InProgress);
        let deleted = ProgressEvent {
            operation_status: OperationStatus::Success,
            ..delete.current.clone()
        };
        assert_eq!(
            ResourceChange::on_success(&delete, &deleted),
            Some(ResourceChange::Remove {
                type_name: "AWS::Logs::LogGroup".into(),
                identifier: "app".into(),
            })
        );
        let update = request(Operation::Update, OperationStatus::InProgress);
        let unreported = ProgressEvent {
            operation_status: OperationStatus::Success,
            ..update.current.clone()
        };
        assert_eq!(ResourceChange::on_success(&update, &unreported), None);
        let reported = ProgressEvent {
            resource_model: Some(r#"{"LogGroupName":"app","RetentionInDays":7}"#.into()),
            ..unreported
        };
        assert!(matches!(
            ResourceChange::on_success(&update, &reported),
            Some(ResourceChange::Put { .. })
        ));
    }
}
