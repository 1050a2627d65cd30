//! The query form's parameters: the reference page's
//! `?Action=GetResourceRequestStatus&RequestToken=...&Version=2021-09-30`,
//! as a query string (`GET /`) or a form-encoded body (`POST /` without
//! `X-Amz-Target`). Only `GetResourceRequestStatus` of Cloud Control's API
//! version is served; anything else, or parameters that do not decode, is a
//! [`Rejection`].

use axum::http::{HeaderMap, header::CONTENT_TYPE};
use serde::Deserialize;

use super::credentials::{Caller, CredentialScope};
use super::rejection::Rejection;
use super::target::Operation;
use crate::http::shapes::RequestTokenInput;

pub const CLOUD_CONTROL_VERSION: &str = "2021-09-30";

/// The parameters the query form reads; others (the `X-Amz-*` signing
/// parameters but the credential) are ignored.
#[derive(Debug, Default, Deserialize)]
pub struct QueryParameters {
    #[serde(rename = "Action")]
    action: Option<String>,
    #[serde(rename = "Version")]
    version: Option<String>,
    #[serde(rename = "RequestToken")]
    request_token: Option<String>,
    #[serde(rename = "X-Amz-Credential")]
    credential: Option<String>,
}

impl QueryParameters {
    /// The parameters of a query string (`None`: the URI has none).
    pub fn from_query_string(query: Option<&str>) -> Result<Self, Rejection> {
        serde_urlencoded::from_str(query.unwrap_or_default()).map_err(|error| {
            Rejection::MalformedQueryString {
                detail: error.to_string(),
            }
        })
    }

    /// The parameters of a form-encoded body.
    pub fn from_form_body(body: &[u8]) -> Result<Self, Rejection> {
        serde_urlencoded::from_bytes(body).map_err(|error| Rejection::MalformedQueryString {
            detail: error.to_string(),
        })
    }

    /// Who is calling. The `Authorization` header wins; a presigned-style
    /// request carries the credential as a parameter.
    pub fn caller(&self, headers: &HeaderMap) -> Caller {
        let scope = CredentialScope::from_headers(headers)
            .or_else(|| self.credential.as_deref().and_then(CredentialScope::parse));
        Caller::new(scope)
    }

    /// The input of `GetResourceRequestStatus`.
    pub fn into_input(self) -> RequestTokenInput {
        RequestTokenInput {
            request_token: self.request_token,
        }
    }
}

/// Whether a POST without `X-Amz-Target` is a form (`; charset=...` allowed).
pub fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Only `GetResourceRequestStatus` of version 2021-09-30 (or no version) is served.
pub fn check_action(parameters: QueryParameters) -> Result<QueryParameters, Rejection> {
    match parameters.action.as_deref() {
        None => return Err(Rejection::MissingAction),
        Some(action) if action == Operation::GetResourceRequestStatus.name() => {}
        Some(action) => {
            return Err(Rejection::InvalidAction {
                action: action.to_owned(),
            });
        }
    }
    match parameters.version.as_deref() {
        None | Some(CLOUD_CONTROL_VERSION) => Ok(parameters),
        Some(version) => Err(Rejection::NoSuchVersion {
            version: version.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_resource_request_status_of_this_version_is_served() {
        let parameters = |action: Option<&str>, version: Option<&str>| QueryParameters {
            action: action.map(str::to_owned),
            version: version.map(str::to_owned),
            ..QueryParameters::default()
        };
        assert!(check_action(parameters(Some("GetResourceRequestStatus"), None)).is_ok());
        assert!(
            check_action(parameters(
                Some("GetResourceRequestStatus"),
                Some("2021-09-30")
            ))
            .is_ok()
        );
        assert_eq!(
            check_action(parameters(None, None)).unwrap_err(),
            Rejection::MissingAction
        );
        assert_eq!(
            check_action(parameters(Some("ListResourceRequests"), None)).unwrap_err(),
            Rejection::InvalidAction {
                action: "ListResourceRequests".into()
            }
        );
        assert_eq!(
            check_action(parameters(
                Some("GetResourceRequestStatus"),
                Some("2010-05-08")
            ))
            .unwrap_err(),
            Rejection::NoSuchVersion {
                version: "2010-05-08".into()
            }
        );
    }

    #[test]
    fn form_content_types_are_recognised_with_a_charset() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, value.parse().unwrap());
            is_form(&headers)
        };
        assert!(with("application/x-www-form-urlencoded"));
        assert!(with("application/x-www-form-urlencoded; charset=utf-8"));
        assert!(with("Application/X-WWW-Form-Urlencoded;charset=UTF-8"));
        assert!(!with("application/x-amz-json-1.0"));
        assert!(!is_form(&HeaderMap::new()));
    }
}
