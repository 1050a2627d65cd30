//! Who is calling: the [`Caller`] of one request.
//!
//! With `--auth sigv4` the caller is authenticated (`routes/authenticate.rs`
//! verifies the signature): it carries its [`Principal`], whose credential
//! alone decides the account, and the region of its verified credential
//! scope. With `--auth none` nothing is verified and the caller is read off
//! the unverified credential scope of the `Authorization` header (or, for
//! the query form, the `X-Amz-Credential` parameter): a 12-digit access key
//! id is the account itself, anything else the server's default account.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::domain::AccountId;
use crate::domain::credential::Principal;

/// The only signing algorithm whose credential scope carries a region
/// (SigV4a scopes have none).
const SIGV4_ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// `AKID/20261123/eu-west-1/waf-regional/aws4_request`, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    pub region: Option<String>,
}

impl CredentialScope {
    /// Parses the value of a `Credential=` pair or an `X-Amz-Credential`
    /// parameter; `None` when it has no access key id.
    pub fn parse(credential: &str) -> Option<Self> {
        let mut parts = credential.trim().split('/');
        let access_key_id = parts.next().filter(|key| !key.is_empty())?;
        let _date = parts.next();
        let region = parts
            .next()
            .filter(|region| !region.is_empty())
            .map(str::to_owned);
        Some(Self {
            access_key_id: access_key_id.to_owned(),
            region,
        })
    }

    /// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`;
    /// `None` for any other scheme or a header without a credential.
    pub fn from_authorization(value: &str) -> Option<Self> {
        let parameters = value.trim_start().strip_prefix(SIGV4_ALGORITHM)?;
        if !parameters.starts_with(char::is_whitespace) {
            return None;
        }
        parameters
            .split(',')
            .filter_map(|pair| pair.trim().strip_prefix("Credential="))
            .find_map(Self::parse)
    }

    /// The scope of the request's `Authorization` header, if it has one.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        headers
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(Self::from_authorization)
    }
}

/// The caller of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    scope: Option<CredentialScope>,
    /// Set when the signature was verified.
    principal: Option<Principal>,
}

impl Caller {
    /// An unverified caller (`--auth none`).
    pub fn new(scope: Option<CredentialScope>) -> Self {
        Self {
            scope,
            principal: None,
        }
    }

    /// A caller whose signature, scoped to `region`, was verified.
    pub fn authenticated(principal: Principal, region: String) -> Self {
        Self {
            scope: Some(CredentialScope {
                access_key_id: principal.access_key_id.to_string(),
                region: Some(region),
            }),
            principal: Some(principal),
        }
    }

    /// The caller named by the `Authorization` header; an absent or
    /// unreadable header is an anonymous caller.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        Self::new(CredentialScope::from_headers(headers))
    }

    /// An authenticated caller acts on its credential's account (an
    /// all-accounts credential on the default account: AWS requests name no
    /// account). Unverified: a 12-digit access key id is the account;
    /// anything else, or no key at all, is the default account.
    pub fn account(&self, default_account: &AccountId) -> AccountId {
        if let Some(principal) = &self.principal {
            return principal.own_account(default_account);
        }
        self.scope
            .as_ref()
            .and_then(|scope| AccountId::parse(scope.access_key_id.as_str()).ok())
            .unwrap_or_else(|| default_account.clone())
    }

    /// The region the request was signed for, if it names one.
    pub fn region(&self) -> Option<&str> {
        self.scope.as_ref()?.region.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn default_account() -> AccountId {
        AccountId::parse("000000000000").unwrap()
    }

    fn caller_with(authorization: &str) -> Caller {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        Caller::from_headers(&headers)
    }

    #[test]
    fn sigv4_headers_give_access_key_and_region() {
        // (Authorization header, expected access key id, expected region)
        let table = [
            (
                "AWS4-HMAC-SHA256 Credential=123456789012/20261123/eu-west-1/waf-regional/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
                "123456789012",
                Some("eu-west-1"),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261123/us-east-1/cloudcontrolapi/aws4_request,SignedHeaders=host,Signature=0",
                "AKIDEXAMPLE",
                Some("us-east-1"),
            ),
            (
                "AWS4-HMAC-SHA256 SignedHeaders=host, Credential=AKID/20261123/ap-south-2/waf/aws4_request, Signature=0",
                "AKID",
                Some("ap-south-2"),
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKID/20261123//waf/aws4_request",
                "AKID",
                None,
            ),
            ("AWS4-HMAC-SHA256 Credential=AKID", "AKID", None),
        ];
        for (header, access_key_id, region) in table {
            let scope = CredentialScope::from_authorization(header)
                .unwrap_or_else(|| panic!("{header} should parse"));
            assert_eq!(scope.access_key_id, access_key_id, "{header}");
            assert_eq!(scope.region.as_deref(), region, "{header}");
        }
    }

    #[test]
    fn other_schemes_and_broken_headers_name_nobody() {
        for header in [
            "",
            "Bearer abc",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256Credential=AKID/20261123/eu-west-1/waf/aws4_request",
            "AWS4-HMAC-SHA256 SignedHeaders=host, Signature=0",
            "AWS4-HMAC-SHA256 Credential=/20261123/eu-west-1/waf/aws4_request",
            "AWS4-ECDSA-P256-SHA256 Credential=AKID/20261123/waf/aws4_request",
        ] {
            assert_eq!(
                CredentialScope::from_authorization(header),
                None,
                "{header:?}"
            );
        }
    }

    #[test]
    fn twelve_digit_keys_are_accounts_and_the_rest_is_the_default() {
        let default = default_account();
        // (Authorization header, expected account)
        let table = [
            (
                "AWS4-HMAC-SHA256 Credential=123456789012/20261123/eu-west-1/waf/aws4_request, Signature=0",
                "123456789012",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261123/eu-west-1/waf/aws4_request, Signature=0",
                "000000000000",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=12345678901/20261123/eu-west-1/waf/aws4_request, Signature=0",
                "000000000000",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=1234567890123/20261123/eu-west-1/waf/aws4_request, Signature=0",
                "000000000000",
            ),
            ("Basic dXNlcjpwYXNz", "000000000000"),
        ];
        for (header, account) in table {
            assert_eq!(
                caller_with(header).account(&default).as_str(),
                account,
                "{header}"
            );
        }
        let anonymous = Caller::from_headers(&HeaderMap::new());
        assert_eq!(anonymous.account(&default), default);
        assert_eq!(anonymous.region(), None);
    }

    #[test]
    fn query_credential_parameters_parse_like_the_header() {
        let scope =
            CredentialScope::parse("210987654321/20160316/us-west-2/cloudcontrolapi/aws4_request")
                .unwrap();
        assert_eq!(scope.access_key_id, "210987654321");
        assert_eq!(scope.region.as_deref(), Some("us-west-2"));
        assert_eq!(CredentialScope::parse(""), None);
    }
}
