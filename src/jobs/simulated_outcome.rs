//! What the simulated worker makes of a request it finishes: the outcome a
//! real handler would report, given the resource as it is now.
//!
//! - `CREATE`: the identifier comes from the type's primary identifier
//!   properties in the desired state (compound ones joined with `|`, from
//!   `data/resource-types.tsv`); a primary identifier the desired state
//!   lacks (a read-only `Id`, `Arn`) is generated and written into the model,
//!   as the real service would report it. Types the table lacks (private
//!   types) fall back to a name-guessing heuristic. A resource that exists
//!   already is `FAILED` with `AlreadyExists`.
//! - `UPDATE`: the patch applied to the current model; no resource is
//!   `NotFound`, a patch that touches a create-only property `NotUpdatable`,
//!   one that does not apply (a failed `test`, a `remove` of nothing)
//!   `InvalidRequest`.
//! - `DELETE`: no resource is `NotFound`.

use serde_json::Value;

use crate::domain::resource::{
    ResourcePatch, StoredResource, already_exists_message, not_found_message,
};
use crate::domain::resource_request::{
    HandlerErrorCode, Operation, OperationStatus, ProgressReport, StoredResourceRequest,
};
use crate::domain::resource_types::{ResourceTypeFacts, ResourceTypes};
use crate::domain::values::{Identifier, JsonDocument, StatusMessage};

/// A report that changes only the status (identifier and model stay as they are).
pub(super) fn plain_report(operation_status: OperationStatus) -> ProgressReport {
    ProgressReport {
        operation_status,
        identifier: None,
        resource_model: None,
        status_message: None,
        error_code: None,
        retry_after: None,
    }
}

/// `FAILED` with a handler error code and message.
pub(super) fn failed_report(code: HandlerErrorCode, message: Option<String>) -> ProgressReport {
    ProgressReport {
        error_code: Some(code),
        status_message: message.and_then(|message| {
            let cut: String = message.chars().take(1024).collect();
            StatusMessage::parse(cut).ok()
        }),
        ..plain_report(OperationStatus::Failed)
    }
}

/// The identifier and model a simulated `CREATE` of `request` gives its
/// resource.
pub(super) fn created_resource(
    request: &StoredResourceRequest,
) -> (Identifier, Option<JsonDocument>) {
    let type_name = request.input.type_name.as_str();
    let desired_state = request.input.desired_state.as_ref();
    if let Some(reported) = request
        .current
        .identifier
        .as_ref()
        .and_then(|reported| Identifier::parse(reported.clone()).ok())
    {
        return (reported, desired_state.cloned());
    }
    let facts = ResourceTypes::known().get(type_name);
    let model = desired_state.and_then(|state| serde_json::from_str::<Value>(state.as_str()).ok());
    match (facts, model) {
        (Some(facts), Some(mut model)) if model.is_object() => {
            let identifier = facts.identifier_of(&model).or_else(|| {
                fill_primary_identifier(facts, &mut model);
                facts.identifier_of(&model)
            });
            let identifier = identifier
                .and_then(|identifier| Identifier::parse(identifier).ok())
                .unwrap_or_else(|| generated(type_name));
            let document = JsonDocument::parse("ResourceModel", model.to_string()).ok();
            (identifier, document.or_else(|| desired_state.cloned()))
        }
        _ => {
            let identifier = identifier_for_created_resource(
                type_name,
                desired_state.map(|state| state.as_str()),
            )
            .unwrap_or_else(|| generated(type_name));
            (identifier, desired_state.cloned())
        }
    }
}

fn generated(type_name: &str) -> Identifier {
    Identifier::parse(generated_identifier(type_name)).expect("a generated identifier is valid")
}

/// Gives every top-level primary identifier property `model` lacks a
/// generated value, as the service would on creation.
fn fill_primary_identifier(facts: &ResourceTypeFacts, model: &mut Value) {
    let Some(members) = model.as_object_mut() else {
        return;
    };
    for path in &facts.primary_identifier {
        if let [key] = path.keys()
            && !members.contains_key(key)
        {
            members.insert(
                key.clone(),
                Value::String(generated_identifier(&facts.type_name)),
            );
        }
    }
}

/// What finishes an in-progress request, given its resource as it is now
/// (`current`, with every property).
pub(super) fn finished_report(
    request: &StoredResourceRequest,
    current: Option<&StoredResource>,
) -> ProgressReport {
    let type_name = request.input.type_name.as_str();
    match request.input.operation {
        Operation::Create => {
            let (identifier, model) = created_resource(request);
            if current.is_some() {
                return failed_report(
                    HandlerErrorCode::AlreadyExists,
                    Some(already_exists_message(type_name, identifier.as_str())),
                );
            }
            ProgressReport {
                identifier: Some(identifier),
                resource_model: model,
                ..plain_report(OperationStatus::Success)
            }
        }
        Operation::Update => {
            let identifier = request.current.identifier.as_deref().unwrap_or_default();
            let Some(current) = current else {
                return failed_report(
                    HandlerErrorCode::NotFound,
                    Some(not_found_message(type_name, identifier)),
                );
            };
            match patched_model(request, current) {
                Ok(model) => ProgressReport {
                    resource_model: JsonDocument::parse("ResourceModel", model.to_string()).ok(),
                    ..plain_report(OperationStatus::Success)
                },
                Err((code, message)) => failed_report(code, Some(message)),
            }
        }
        Operation::Delete => match current {
            Some(_) => plain_report(OperationStatus::Success),
            None => failed_report(
                HandlerErrorCode::NotFound,
                Some(not_found_message(
                    type_name,
                    request.current.identifier.as_deref().unwrap_or_default(),
                )),
            ),
        },
    }
}

/// The model an `UPDATE` leaves: its patch applied to `current`, or why
/// not.
fn patched_model(
    request: &StoredResourceRequest,
    current: &StoredResource,
) -> Result<Value, (HandlerErrorCode, String)> {
    let invalid = |why: String| (HandlerErrorCode::InvalidRequest, why);
    let patch = request
        .input
        .patch_document
        .as_ref()
        .ok_or_else(|| invalid("the request has no PatchDocument".into()))
        .and_then(|document| {
            ResourcePatch::parse(document).map_err(|violation| invalid(violation.constraint))
        })?;
    if let Some(facts) = ResourceTypes::known().get(request.input.type_name.as_str())
        && let Some(property) = patch
            .changed_paths()
            .iter()
            .find_map(|path| facts.create_only_touched_by(path))
    {
        return Err((
            HandlerErrorCode::NotUpdatable,
            format!(
                "Resource of type '{}' with identifier '{}' is not updatable with parameters provided: {} is create-only",
                current.type_name,
                current.identifier,
                property.as_pointer()
            ),
        ));
    }
    let model: Value = serde_json::from_str(&current.properties)
        .map_err(|error| invalid(format!("the stored model does not parse: {error}")))?;
    patch
        .apply_to(&model)
        .map_err(|why| invalid(format!("The patch does not apply: {why}")))
}

/// The model simulation rules match a request against: the desired state
/// of a `CREATE`, the patched model of an `UPDATE`, the current properties
/// of a `DELETE` (`None` when there is none to match).
pub(super) fn model_for_rules(
    request: &StoredResourceRequest,
    current: Option<&StoredResource>,
) -> Option<Value> {
    match request.input.operation {
        Operation::Create => request
            .input
            .desired_state
            .as_ref()
            .and_then(|state| serde_json::from_str(state.as_str()).ok()),
        Operation::Update => current.and_then(|current| patched_model(request, current).ok()),
        Operation::Delete => {
            current.and_then(|current| serde_json::from_str(&current.properties).ok())
        }
    }
}

/// The identifier a simulated CREATE gives its resource. statusgate does not
/// know each type's schema, so it guesses the primary key from the type's
/// last segment (`LogGroup` in `AWS::Logs::LogGroup`): the first of
/// `LogGroupName`, `LogGroupId`, `LogGroupArn`, `Id`, `Name`, `Arn` that is a
/// top-level string or integer member of the desired state (an exact match
/// first, then ignoring case, so `VpcId` serves `AWS::EC2::VPC`). When none
/// is there: `loggroup-` and 8 random hex digits.
pub(super) fn identifier_for_created_resource(
    type_name: &str,
    desired_state: Option<&str>,
) -> Option<Identifier> {
    desired_state
        .and_then(|model| identifier_from_model(type_name, model))
        .or_else(|| Identifier::parse(generated_identifier(type_name)).ok())
}

/// The last segment of a type name (`LogGroup` in `AWS::Logs::LogGroup`).
fn resource_kind(type_name: &str) -> &str {
    type_name.rsplit("::").next().unwrap_or(type_name)
}

/// The primary key the heuristic finds in a JSON model, if any.
fn identifier_from_model(type_name: &str, model: &str) -> Option<Identifier> {
    let model: serde_json::Value = serde_json::from_str(model).ok()?;
    let members = model.as_object()?;
    let kind = resource_kind(type_name);
    let candidate_keys = [
        format!("{kind}Name"),
        format!("{kind}Id"),
        format!("{kind}Arn"),
        "Id".to_owned(),
        "Name".to_owned(),
        "Arn".to_owned(),
    ];
    candidate_keys.iter().find_map(|key| {
        let value = members.get(key.as_str()).or_else(|| {
            members
                .iter()
                .find(|(member, _)| member.eq_ignore_ascii_case(key))
                .map(|(_, value)| value)
        })?;
        identifier_from_value(value)
    })
}

/// A string or integer member as an identifier; anything else is no key.
fn identifier_from_value(value: &serde_json::Value) -> Option<Identifier> {
    let text = match value {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) if number.is_i64() || number.is_u64() => {
            number.to_string()
        }
        _ => return None,
    };
    if text.trim().is_empty() {
        return None;
    }
    Identifier::parse(text).ok()
}

/// `loggroup-1a2b3c4d` for `AWS::Logs::LogGroup`.
fn generated_identifier(type_name: &str) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}-{}",
        resource_kind(type_name).to_ascii_lowercase(),
        &random[..8]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resource::AccountRegion;
    use crate::domain::resource_request::{ProgressEvent, ResourceRequestInput};
    use crate::domain::values::{Region, TypeName};
    use crate::domain::{AccountId, Timestamp};

    fn identifier(type_name: &str, desired_state: &str) -> Option<String> {
        identifier_from_model(type_name, desired_state).map(Identifier::into_string)
    }

    #[test]
    fn the_primary_key_is_found_in_the_model() {
        // (type, desired state, expected identifier)
        let table = [
            (
                "AWS::Logs::LogGroup",
                r#"{"LogGroupName":"app-logs","RetentionInDays":7}"#,
                Some("app-logs"),
            ),
            // The type's own name beats its id, which beats its ARN.
            (
                "AWS::Logs::LogGroup",
                r#"{"LogGroupArn":"arn:aws:logs:x","LogGroupId":"lg-1","LogGroupName":"n"}"#,
                Some("n"),
            ),
            (
                "AWS::Logs::LogGroup",
                r#"{"LogGroupArn":"arn:aws:logs:x","LogGroupId":"lg-1"}"#,
                Some("lg-1"),
            ),
            (
                "AWS::Logs::LogGroup",
                r#"{"LogGroupArn":"arn:aws:logs:x"}"#,
                Some("arn:aws:logs:x"),
            ),
            // Then the generic keys, in order Id, Name, Arn.
            (
                "AWS::Foo::Bar",
                r#"{"Arn":"arn:x","Name":"n","Id":"i"}"#,
                Some("i"),
            ),
            ("AWS::Foo::Bar", r#"{"Arn":"arn:x","Name":"n"}"#, Some("n")),
            ("AWS::Foo::Bar", r#"{"Arn":"arn:x"}"#, Some("arn:x")),
            // Case differs between type names and property names.
            ("AWS::EC2::VPC", r#"{"VpcId":"vpc-1"}"#, Some("vpc-1")),
            // Integer ids are identifiers too.
            ("AWS::Foo::Bar", r#"{"Id":42}"#, Some("42")),
            // Unusable values are skipped, not taken.
            ("AWS::Foo::Bar", r#"{"Id":"","Name":"n"}"#, Some("n")),
            ("AWS::Foo::Bar", r#"{"Id":{"x":1},"Name":["n"]}"#, None),
            ("AWS::Foo::Bar", r#"{"Id":1.5,"Id2":"x"}"#, None),
            ("AWS::Foo::Bar", r#"{"Id":true}"#, None),
            // Nested members are not keys.
            ("AWS::Foo::Bar", r#"{"Tags":{"Name":"n"}}"#, None),
            ("AWS::Logs::LogGroup", r#"{"RetentionInDays":7}"#, None),
            ("AWS::Logs::LogGroup", r#"["LogGroupName"]"#, None),
            ("AWS::Logs::LogGroup", "not json", None),
        ];
        for (type_name, desired_state, expected) in table {
            assert_eq!(
                identifier(type_name, desired_state).as_deref(),
                expected,
                "{type_name} {desired_state}"
            );
        }
    }

    #[test]
    fn an_exact_key_beats_one_that_differs_in_case() {
        assert_eq!(
            identifier("AWS::Foo::Bar", r#"{"ID":"upper","Id":"exact"}"#).as_deref(),
            Some("exact")
        );
    }

    #[test]
    fn without_a_key_an_identifier_is_generated_from_the_type() {
        let pattern = regex::Regex::new("^loggroup-[0-9a-f]{8}$").unwrap();
        for desired_state in [Some(r#"{"RetentionInDays":7}"#), Some("[]"), None] {
            let generated =
                identifier_for_created_resource("AWS::Logs::LogGroup", desired_state).unwrap();
            assert!(pattern.is_match(generated.as_str()), "{generated}");
        }
        let first = identifier_for_created_resource("AWS::Logs::LogGroup", None).unwrap();
        let second = identifier_for_created_resource("AWS::Logs::LogGroup", None).unwrap();
        assert_ne!(first, second);
        assert_eq!(
            identifier_for_created_resource("AWS::Logs::LogGroup", Some(r#"{"Name":"x"}"#))
                .unwrap()
                .as_str(),
            "x"
        );
    }

    fn request(
        type_name: &str,
        operation: Operation,
        desired_state: Option<&str>,
        patch: Option<&str>,
    ) -> StoredResourceRequest {
        StoredResourceRequest {
            scope: AccountRegion::new(
                AccountId::parse("123456789012").unwrap(),
                Region::parse("us-east-1").unwrap(),
            ),
            client_token: None,
            input: ResourceRequestInput {
                operation,
                type_name: TypeName::parse(type_name).unwrap(),
                identifier: (operation != Operation::Create)
                    .then(|| Identifier::parse("app").unwrap()),
                desired_state: desired_state
                    .map(|state| JsonDocument::parse("DesiredState", state).unwrap()),
                patch_document: patch
                    .map(|patch| JsonDocument::parse("PatchDocument", patch).unwrap()),
                role_arn: None,
                type_version_id: None,
            },
            current: ProgressEvent {
                type_name: type_name.into(),
                identifier: (operation != Operation::Create).then(|| "app".into()),
                request_token: "t".into(),
                hooks_request_token: None,
                operation,
                operation_status: OperationStatus::InProgress,
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

    fn resource(properties: &str) -> StoredResource {
        StoredResource {
            type_name: "AWS::Logs::LogGroup".into(),
            identifier: "app".into(),
            properties: properties.into(),
        }
    }

    #[test]
    fn creates_take_the_primary_identifier_of_the_type_table() {
        let create = request(
            "AWS::ACMPCA::Certificate",
            Operation::Create,
            Some(r#"{"Arn":"arn:a","CertificateAuthorityArn":"arn:ca"}"#),
            None,
        );
        let report = finished_report(&create, None);
        assert_eq!(report.operation_status, OperationStatus::Success);
        assert_eq!(report.identifier.unwrap().as_str(), "arn:a|arn:ca");

        // A generated identifier is written into the model.
        let vpc = request(
            "AWS::EC2::VPC",
            Operation::Create,
            Some(r#"{"CidrBlock":"10.0.0.0/16"}"#),
            None,
        );
        let report = finished_report(&vpc, None);
        let identifier = report.identifier.unwrap();
        let model: Value = serde_json::from_str(report.resource_model.unwrap().as_str()).unwrap();
        assert_eq!(model["VpcId"], identifier.as_str());
        assert_eq!(model["CidrBlock"], "10.0.0.0/16");

        let exists = finished_report(
            &request(
                "AWS::Logs::LogGroup",
                Operation::Create,
                Some(r#"{"LogGroupName":"app"}"#),
                None,
            ),
            Some(&resource(r#"{"LogGroupName":"app"}"#)),
        );
        assert_eq!(exists.operation_status, OperationStatus::Failed);
        assert_eq!(exists.error_code, Some(HandlerErrorCode::AlreadyExists));
        assert_eq!(
            exists.status_message.unwrap().as_str(),
            "Resource of type 'AWS::Logs::LogGroup' with identifier 'app' already exists."
        );
    }

    #[test]
    fn updates_apply_their_patch_unless_it_touches_a_create_only_property() {
        let current = resource(r#"{"LogGroupName":"app","RetentionInDays":7}"#);
        let update = |patch: &str| {
            finished_report(
                &request("AWS::Logs::LogGroup", Operation::Update, None, Some(patch)),
                Some(&current),
            )
        };
        let applied = update(r#"[{"op":"replace","path":"/RetentionInDays","value":14}]"#);
        assert_eq!(applied.operation_status, OperationStatus::Success);
        assert_eq!(
            applied.resource_model.unwrap().as_str(),
            r#"{"LogGroupName":"app","RetentionInDays":14}"#
        );
        let create_only = update(r#"[{"op":"replace","path":"/LogGroupName","value":"other"}]"#);
        assert_eq!(create_only.error_code, Some(HandlerErrorCode::NotUpdatable));
        assert!(
            create_only
                .status_message
                .unwrap()
                .as_str()
                .contains("LogGroupName is create-only")
        );
        let not_applying = update(r#"[{"op":"remove","path":"/KmsKeyId"}]"#);
        assert_eq!(
            not_applying.error_code,
            Some(HandlerErrorCode::InvalidRequest)
        );
        let missing = finished_report(
            &request("AWS::Logs::LogGroup", Operation::Update, None, Some("[]")),
            None,
        );
        assert_eq!(missing.error_code, Some(HandlerErrorCode::NotFound));
    }

    #[test]
    fn deletes_need_their_resource() {
        let delete = request("AWS::Logs::LogGroup", Operation::Delete, None, None);
        assert_eq!(
            finished_report(&delete, Some(&resource("{}"))).operation_status,
            OperationStatus::Success
        );
        let missing = finished_report(&delete, None);
        assert_eq!(missing.error_code, Some(HandlerErrorCode::NotFound));
        assert_eq!(
            missing.status_message.unwrap().as_str(),
            "Resource of type 'AWS::Logs::LogGroup' with identifier 'app' was not found."
        );
    }

    #[test]
    fn rules_match_the_model_each_operation_leads_to() {
        let current = resource(r#"{"LogGroupName":"app","RetentionInDays":7}"#);
        let update = request(
            "AWS::Logs::LogGroup",
            Operation::Update,
            None,
            Some(r#"[{"op":"replace","path":"/RetentionInDays","value":14}]"#),
        );
        assert_eq!(
            model_for_rules(&update, Some(&current)).unwrap()["RetentionInDays"],
            14
        );
        let delete = request("AWS::Logs::LogGroup", Operation::Delete, None, None);
        assert_eq!(
            model_for_rules(&delete, Some(&current)).unwrap()["RetentionInDays"],
            7
        );
        assert!(model_for_rules(&delete, None).is_none());
    }
}
