//! The awsJson body: one JSON object (an empty body is `{}`), decoded into
//! the operation's input shape. `null` members read as absent and unknown
//! members are ignored (the shapes' serde derives); a body that is not JSON,
//! not an object, or has a member of the wrong JSON type is a [`Rejection`].

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::rejection::Rejection;

/// The body as a JSON object; an empty body is `{}`. serde_json refuses
/// nesting deeper than 128 levels, so hostile nesting is a parse error here
/// rather than a stack overflow.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, Rejection> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let value: Value = serde_json::from_slice(body).map_err(|error| Rejection::MalformedJson {
        detail: error.to_string(),
    })?;
    match value {
        Value::Object(members) => Ok(members),
        _ => Err(Rejection::NotAnObject),
    }
}

/// The body as an operation's input shape; the error names the member's path.
pub fn decode_input<Shape: DeserializeOwned>(body: Map<String, Value>) -> Result<Shape, Rejection> {
    serde_path_to_error::deserialize(Value::Object(body)).map_err(|error| {
        Rejection::WrongMemberType {
            member: error.path().to_string(),
            detail: error.inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::shapes::{GetChangeTokenStatusInput, ListResourceRequestsInput};

    #[test]
    fn empty_bodies_are_empty_objects_and_others_must_be_objects() {
        assert_eq!(parse_object(b"").unwrap(), Map::new());
        assert_eq!(parse_object(b" \n").unwrap(), Map::new());
        assert_eq!(parse_object(b"{}").unwrap(), Map::new());
        assert_eq!(parse_object(b"[]"), Err(Rejection::NotAnObject));
        assert_eq!(parse_object(b"\"x\""), Err(Rejection::NotAnObject));
        assert!(matches!(
            parse_object(b"{\"a\":"),
            Err(Rejection::MalformedJson { .. })
        ));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        let Err(Rejection::MalformedJson { detail }) = parse_object(deep.as_bytes()) else {
            panic!("deep nesting must be refused");
        };
        assert!(detail.contains("recursion limit exceeded"), "{detail}");
    }

    #[test]
    fn members_of_the_wrong_type_are_named_and_nulls_are_absent() {
        let body = |text: &str| parse_object(text.as_bytes()).unwrap();
        let rejection =
            decode_input::<GetChangeTokenStatusInput>(body(r#"{"ChangeToken": 5}"#)).unwrap_err();
        assert_eq!(
            rejection,
            Rejection::WrongMemberType {
                member: "ChangeToken".into(),
                detail: "invalid type: integer `5`, expected a string".into(),
            }
        );
        let nested = decode_input::<ListResourceRequestsInput>(body(
            r#"{"ResourceRequestStatusFilter": {"Operations": ["CREATE", 7]}}"#,
        ))
        .unwrap_err();
        assert!(
            matches!(&nested, Rejection::WrongMemberType { member, .. } if member == "ResourceRequestStatusFilter.Operations[1]"),
            "{nested:?}"
        );
        let nulls = decode_input::<ListResourceRequestsInput>(body(
            r#"{"MaxResults": null, "NextToken": null, "ResourceRequestStatusFilter": null, "Unknown": [1, {"x": 2}]}"#,
        ))
        .unwrap();
        assert!(nulls.max_results.is_none() && nulls.next_token.is_none());
        assert!(nulls.resource_request_status_filter.is_none());
    }
}
