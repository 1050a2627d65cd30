//! The simulation's rules: how a developer chooses what the simulated worker
//! does with a request instead of always answering `SUCCESS`. A rule set is
//! one JSON document (the `--simulation-rules` file, `SetSimulationRules`):
//!
//! ```json
//! {"Rules": [
//!   {"TypeName": "AWS::S3::Bucket", "Operation": "CREATE",
//!    "DesiredState": {"BucketName": "taken"},
//!    "Fail": {"ErrorCode": "AlreadyExists", "StatusMessage": "bucket taken exists"}},
//!   {"TypeName": "AWS::RDS::*", "ExtraDelay": "30s"},
//!   {"TypeName": "AWS::Lambda::Function", "Operation": "UPDATE", "RetryAfter": "10s"}
//! ]}
//! ```
//!
//! A rule matches a request by `TypeName` (exact, or a prefix ending in
//! `*`), `Operation` (absent: every operation) and `DesiredState` (absent:
//! any; else members the request's model must contain, as
//! `ListResources`' filter compares: the desired state of a `CREATE`, the
//! patched model of an `UPDATE`, the current properties of a `DELETE`).
//! The first matching rule decides; its effects combine: `ExtraDelay`
//! lengthens the wait before the request finishes, `RetryAfter` is reported
//! on an `IN_PROGRESS` event (and the request finishes no sooner), and
//! `Fail` finishes it `FAILED` with that handler error code and message.
//! Unknown members are refused, so a typo is an error rather than a rule
//! that never matches.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::FieldViolation;
use super::resource::properties_contain;
use super::resource_request::{HandlerErrorCode, Operation};
use super::values::{StatusMessage, TypeName};

/// Most rules one set may hold.
pub const MAX_RULES: usize = 100;
/// Longest `ExtraDelay` or `RetryAfter`.
pub const MAX_RULE_DELAY: Duration = Duration::from_secs(3600);
/// The member invalid rules are reported against.
pub const MEMBER: &str = "Rules";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RuleSetText {
    rules: Vec<RuleText>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RuleText {
    type_name: String,
    operation: Option<String>,
    desired_state: Option<Value>,
    fail: Option<FailText>,
    extra_delay: Option<String>,
    retry_after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct FailText {
    error_code: String,
    status_message: Option<String>,
}

/// Which type names a rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TypePattern {
    Exact(String),
    /// `AWS::S3::*`: every type name starting with `AWS::S3::`.
    Prefix(String),
}

impl TypePattern {
    fn matches(&self, type_name: &str) -> bool {
        match self {
            Self::Exact(exact) => exact == type_name,
            Self::Prefix(prefix) => type_name.starts_with(prefix.as_str()),
        }
    }
}

/// What a matching rule does to a request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleEffect {
    /// Finish `FAILED` with this code and message.
    pub failure: Option<(HandlerErrorCode, Option<String>)>,
    pub extra_delay: Duration,
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq)]
struct Rule {
    type_name: TypePattern,
    operation: Option<Operation>,
    desired_state: Option<Value>,
    effect: RuleEffect,
}

/// A parsed, valid rule set.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SimulationRules {
    rules: Vec<Rule>,
}

fn invalid(document: &str, why: String) -> FieldViolation {
    FieldViolation::invalid(MEMBER, document, why)
}

fn delay(text: Option<String>, position: usize, member: &str) -> Result<Option<Duration>, String> {
    let Some(text) = text else {
        return Ok(None);
    };
    let duration = humantime::parse_duration(&text).map_err(|error| {
        format!("rule {position}: {member} {text:?} is not a duration: {error}")
    })?;
    if duration > MAX_RULE_DELAY {
        return Err(format!("rule {position}: {member} may be at most 1h"));
    }
    Ok(Some(duration))
}

fn rule_from_text(text: RuleText, position: usize) -> Result<Rule, String> {
    let type_name = match text.type_name.strip_suffix('*') {
        Some(prefix)
            if prefix
                .chars()
                .all(|character| character.is_ascii_alphanumeric() || character == ':') =>
        {
            TypePattern::Prefix(prefix.to_owned())
        }
        Some(_) => {
            return Err(format!(
                "rule {position}: TypeName {:?} must be a type name or a prefix ending in *",
                text.type_name
            ));
        }
        None => TypePattern::Exact(
            TypeName::parse(text.type_name)
                .map_err(|violation| {
                    format!("rule {position}: TypeName: {}", violation.constraint)
                })?
                .into_string(),
        ),
    };
    let operation = text
        .operation
        .map(|operation| {
            Operation::from_aws(&operation).ok_or_else(|| {
                format!("rule {position}: Operation {operation:?} is not CREATE, UPDATE or DELETE")
            })
        })
        .transpose()?;
    if let Some(state) = &text.desired_state
        && !state.is_object()
    {
        return Err(format!(
            "rule {position}: DesiredState must be a JSON object"
        ));
    }
    let failure = text
        .fail
        .map(|fail| {
            let code = HandlerErrorCode::from_aws(&fail.error_code).ok_or_else(|| {
                format!(
                    "rule {position}: Fail.ErrorCode {:?} is not a handler error code",
                    fail.error_code
                )
            })?;
            let message = fail
                .status_message
                .map(|message| {
                    StatusMessage::parse(message)
                        .map(StatusMessage::into_string)
                        .map_err(|violation| {
                            format!(
                                "rule {position}: Fail.StatusMessage: {}",
                                violation.constraint
                            )
                        })
                })
                .transpose()?;
            Ok::<_, String>((code, message))
        })
        .transpose()?;
    let effect = RuleEffect {
        failure,
        extra_delay: delay(text.extra_delay, position, "ExtraDelay")?.unwrap_or_default(),
        retry_after: delay(text.retry_after, position, "RetryAfter")?,
    };
    if effect == RuleEffect::default() {
        return Err(format!(
            "rule {position}: says nothing to do (give Fail, ExtraDelay or RetryAfter)"
        ));
    }
    Ok(Rule {
        type_name,
        operation,
        desired_state: text.desired_state,
        effect,
    })
}

impl SimulationRules {
    /// Parses a rule document; what is wrong is reported against `Rules`,
    /// naming the rule (from 1).
    pub fn parse(document: &str) -> Result<Self, FieldViolation> {
        let text: RuleSetText = serde_json::from_str(document).map_err(|error| {
            invalid(
                document,
                format!("Member must be a simulation rule document: {error}"),
            )
        })?;
        if text.rules.len() > MAX_RULES {
            return Err(invalid(
                document,
                format!("Member must have at most {MAX_RULES} rules"),
            ));
        }
        let rules = text
            .rules
            .into_iter()
            .enumerate()
            .map(|(index, rule)| rule_from_text(rule, index + 1))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|why| invalid(document, format!("Member must be valid rules: {why}")))?;
        Ok(Self { rules })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The effect of the first rule matching a request of `type_name` and
    /// `operation` whose model is `model` (`None`: no model is known, so a
    /// rule with a `DesiredState` does not match); `None` when none does.
    pub fn effect_for(
        &self,
        type_name: &str,
        operation: Operation,
        model: Option<&Value>,
    ) -> Option<&RuleEffect> {
        self.rules
            .iter()
            .find(|rule| {
                rule.type_name.matches(type_name)
                    && rule.operation.is_none_or(|wanted| wanted == operation)
                    && match (&rule.desired_state, model) {
                        (None, _) => true,
                        (Some(wanted), Some(model)) => properties_contain(model, wanted),
                        (Some(_), None) => false,
                    }
            })
            .map(|rule| &rule.effect)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EXAMPLE: &str = r#"{"Rules": [
        {"TypeName": "AWS::S3::Bucket", "Operation": "CREATE",
         "DesiredState": {"BucketName": "taken"},
         "Fail": {"ErrorCode": "AlreadyExists", "StatusMessage": "bucket taken exists"}},
        {"TypeName": "AWS::S3::*", "ExtraDelay": "2s"},
        {"TypeName": "AWS::Lambda::Function", "Operation": "UPDATE", "RetryAfter": "10s"}
    ]}"#;

    #[test]
    fn the_first_matching_rule_decides() {
        let rules = SimulationRules::parse(EXAMPLE).unwrap();
        assert_eq!(rules.len(), 3);
        let taken = json!({"BucketName": "taken", "Tags": []});
        let failing = rules
            .effect_for("AWS::S3::Bucket", Operation::Create, Some(&taken))
            .unwrap();
        assert_eq!(
            failing.failure,
            Some((
                HandlerErrorCode::AlreadyExists,
                Some("bucket taken exists".into())
            ))
        );
        let other = json!({"BucketName": "free"});
        let slow = rules
            .effect_for("AWS::S3::Bucket", Operation::Create, Some(&other))
            .unwrap();
        assert_eq!(slow.extra_delay, Duration::from_secs(2));
        assert!(slow.failure.is_none());
        assert!(
            rules
                .effect_for("AWS::S3::AccessPoint", Operation::Delete, None)
                .is_some()
        );
        let retry = rules
            .effect_for("AWS::Lambda::Function", Operation::Update, None)
            .unwrap();
        assert_eq!(retry.retry_after, Some(Duration::from_secs(10)));
        assert!(
            rules
                .effect_for("AWS::Lambda::Function", Operation::Create, None)
                .is_none()
        );
        assert!(
            rules
                .effect_for("AWS::Logs::LogGroup", Operation::Create, None)
                .is_none()
        );
    }

    #[test]
    fn bad_rules_are_refused_naming_the_rule() {
        // (document, what the message says)
        let table = [
            ("[]", "simulation rule document"),
            (r#"{"Rules": [], "Extra": 1}"#, "unknown field"),
            (
                r#"{"Rules": [{"TypeName": "AWS::S3::Bucket"}]}"#,
                "rule 1: says nothing",
            ),
            (
                r#"{"Rules": [{"TypeName": "AWS::S3", "ExtraDelay": "1s"}]}"#,
                "rule 1: TypeName",
            ),
            (
                r#"{"Rules": [{"TypeName": "AWS::S3::Bucket", "ExtraDelay": "1s", "Operation": "READ"}]}"#,
                "rule 1: Operation",
            ),
            (
                r#"{"Rules": [{"TypeName": "AWS::%::*", "ExtraDelay": "1s"}]}"#,
                "prefix ending in *",
            ),
            (
                r#"{"Rules": [{"TypeName": "AWS::S3::Bucket", "Fail": {"ErrorCode": "Oops"}}]}"#,
                "Fail.ErrorCode",
            ),
            (
                r#"{"Rules": [{"TypeName": "AWS::S3::Bucket", "ExtraDelay": "2h"}]}"#,
                "at most 1h",
            ),
            (
                r#"{"Rules": [{"TypeName": "AWS::S3::Bucket", "RetryAfter": "soon"}]}"#,
                "not a duration",
            ),
            (
                r#"{"Rules": [{"TypeName": "AWS::S3::Bucket", "ExtraDelay": "1s"}, {"TypeName": "AWS::S3::Bucket", "ExtraDelay": "1s", "DesiredState": [1]}]}"#,
                "rule 2: DesiredState",
            ),
            (
                r#"{"Rules": [{"TypeName": "AWS::S3::Bucket", "Failure": {}}]}"#,
                "unknown field",
            ),
        ];
        for (document, expected) in table {
            let violation = SimulationRules::parse(document).unwrap_err();
            assert_eq!(violation.member, "Rules");
            assert!(
                violation.constraint.contains(expected),
                "{document}: {}",
                violation.constraint
            );
        }
        assert!(
            SimulationRules::parse(r#"{"Rules": []}"#)
                .unwrap()
                .is_empty()
        );
    }
}
