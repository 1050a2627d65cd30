//! Reading a SigV4 signature off a request, in either of its two forms: the
//! `Authorization` header (`AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
//! Signature=...` with `X-Amz-Date`) or presigned query parameters
//! (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
//! `X-Amz-SignedHeaders`, `X-Amz-Signature`). These are plain functions over
//! text, so that they are easy to test and to fuzz; whether the signature is
//! right is `sigv4_verify`'s job.
//!
//! Hand-written because no maintained crate parses the server side of SigV4:
//! `aws-sigv4` only signs. Every refusal here is an
//! [`AuthFailure::IncompleteSignature`] or, for session tokens,
//! [`AuthFailure::SessionToken`], worded after AWS's own messages.

use std::time::{Duration, SystemTime};

use super::auth_failure::AuthFailure;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The last element of every SigV4 credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";
/// AWS refuses presigned URLs valid for more than 7 days.
pub const MAX_EXPIRES_SECONDS: u64 = 7 * 24 * 3600;

/// The query parameters of the presigned form.
pub mod param {
    pub const ALGORITHM: &str = "X-Amz-Algorithm";
    pub const CREDENTIAL: &str = "X-Amz-Credential";
    pub const DATE: &str = "X-Amz-Date";
    pub const EXPIRES: &str = "X-Amz-Expires";
    pub const SIGNED_HEADERS: &str = "X-Amz-SignedHeaders";
    pub const SIGNATURE: &str = "X-Amz-Signature";
    pub const SECURITY_TOKEN: &str = "X-Amz-Security-Token";
    /// Every parameter the signature itself consists of (left out of the
    /// canonical query string, which the signer recomputes).
    pub const SIGNING: [&str; 6] = [
        ALGORITHM,
        CREDENTIAL,
        DATE,
        EXPIRES,
        SIGNED_HEADERS,
        SIGNATURE,
    ];
}

/// `AKID/20261123/eu-west-1/waf-regional/aws4_request`, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialScope {
    pub access_key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    /// Parses a whole scope: five non-empty parts ending in `aws4_request`.
    pub fn parse(credential: &str) -> Result<Self, AuthFailure> {
        let malformed = || {
            AuthFailure::incomplete(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/aws4_request, got '{credential}'"
            ))
        };
        let parts: Vec<&str> = credential.split('/').collect();
        let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
            return Err(malformed());
        };
        if [access_key_id, date, region, service]
            .iter()
            .any(|part| part.is_empty())
        {
            return Err(malformed());
        }
        if *terminator != SCOPE_TERMINATOR {
            return Err(AuthFailure::incomplete(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'"
            )));
        }
        Ok(Self {
            access_key_id: (*access_key_id).to_owned(),
            date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
        })
    }
}

/// A time in SigV4's basic ISO 8601 form, `20261123T103000Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct AmzDate {
    seconds: i64,
}

impl AmzDate {
    /// Parses exactly `YYYYMMDDTHHMMSSZ` (the only form the signer writes back
    /// identically, which the canonical request needs).
    pub fn parse(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let slice = bytes.get(range)?;
            slice.iter().try_fold(0_u32, |value, byte| {
                byte.is_ascii_digit()
                    .then(|| value * 10 + u32::from(byte - b'0'))
            })
        };
        if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
            return None;
        }
        let year = i32::try_from(digits(0..4)?).ok()?;
        let month = time::Month::try_from(u8::try_from(digits(4..6)?).ok()?).ok()?;
        let day = u8::try_from(digits(6..8)?).ok()?;
        let date = time::Date::from_calendar_date(year, month, day).ok()?;
        let clock = time::Time::from_hms(
            u8::try_from(digits(9..11)?).ok()?,
            u8::try_from(digits(11..13)?).ok()?,
            u8::try_from(digits(13..15)?).ok()?,
        )
        .ok()?;
        Some(Self {
            seconds: time::PrimitiveDateTime::new(date, clock)
                .assume_utc()
                .unix_timestamp(),
        })
    }

    pub fn from_system_time(at: SystemTime) -> Self {
        let seconds = match at.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
        };
        Self { seconds }
    }

    pub fn to_system_time(self) -> SystemTime {
        let magnitude = Duration::from_secs(self.seconds.unsigned_abs());
        if self.seconds >= 0 {
            SystemTime::UNIX_EPOCH + magnitude
        } else {
            SystemTime::UNIX_EPOCH - magnitude
        }
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self {
            seconds: self.seconds.saturating_add(seconds),
        }
    }

    /// `YYYYMMDD`, the date of a credential scope.
    pub fn date(self) -> String {
        self.to_string()[..8].to_owned()
    }
}

impl std::fmt::Display for AmzDate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match time::OffsetDateTime::from_unix_timestamp(self.seconds) {
            Ok(at) => write!(
                formatter,
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            ),
            Err(_) => write!(formatter, "{}s", self.seconds),
        }
    }
}

/// Where a request carries its signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureLocation {
    Header,
    Query { expires_seconds: u64 },
}

/// A signature as the request states it, before anything is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureClaim {
    pub location: SignatureLocation,
    pub scope: CredentialScope,
    /// Lower-case header names, as listed.
    pub signed_headers: Vec<String>,
    pub signature: String,
    pub date: AmzDate,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    pub credential: String,
    pub signed_headers: String,
    pub signature: String,
}

/// Parses an `Authorization` header value. Any other scheme than
/// `AWS4-HMAC-SHA256`, a pair without `=`, or a missing parameter is
/// incomplete; the message names every missing parameter, as AWS's does.
pub fn parse_authorization(value: &str) -> Result<AuthorizationHeader, AuthFailure> {
    let value = value.trim();
    let (scheme, parameters) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
    if scheme != ALGORITHM {
        return Err(AuthFailure::incomplete(format!(
            "Unsupported authorization type '{scheme}': sign requests with {ALGORITHM}"
        )));
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for pair in parameters.split(',') {
        let pair = pair.trim();
        if pair.is_empty() {
            continue;
        }
        let Some((key, pair_value)) = pair.split_once('=') else {
            return Err(AuthFailure::incomplete(format!(
                "'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{value}'."
            )));
        };
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            // AWS ignores parameters it does not know.
            _ => continue,
        };
        if slot.replace(pair_value.to_owned()).is_some() {
            return Err(AuthFailure::incomplete(format!(
                "Authorization header has the parameter '{key}' more than once."
            )));
        }
    }
    let mut missing = Vec::new();
    for (name, present) in [
        ("Credential", credential.is_some()),
        ("Signature", signature.is_some()),
        ("SignedHeaders", signed_headers.is_some()),
    ] {
        if !present {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(AuthorizationHeader {
            credential,
            signed_headers,
            signature,
        }),
        _ => Err(AuthFailure::incomplete(format!(
            "{} Authorization={value}",
            missing.join(" ")
        ))),
    }
}

/// Parses `SignedHeaders`: lower-case names joined by `;`, which must
/// include `host` (and, in the header form, `x-amz-date`).
pub fn parse_signed_headers(
    value: &str,
    location: SignatureLocation,
) -> Result<Vec<String>, AuthFailure> {
    let names: Vec<String> = value.split(';').map(str::to_owned).collect();
    if names.iter().any(|name| {
        name.is_empty()
            || !name
                .bytes()
                .all(|byte| byte.is_ascii_graphic() && !byte.is_ascii_uppercase())
    }) {
        return Err(AuthFailure::incomplete(format!(
            "SignedHeaders must be lower-case header names separated by ';', got '{value}'"
        )));
    }
    let mut required = vec!["host"];
    if location == SignatureLocation::Header {
        required.push("x-amz-date");
    }
    for name in required {
        if !names.iter().any(|signed| signed == name) {
            return Err(AuthFailure::incomplete(format!(
                "'{name}' must be a signed header; SignedHeaders is '{value}'"
            )));
        }
    }
    Ok(names)
}

/// The claim of an `Authorization` header whose request carries
/// `X-Amz-Date` (`amz_date`, if it has one).
pub fn claim_from_header(
    authorization: &str,
    amz_date: Option<&str>,
) -> Result<SignatureClaim, AuthFailure> {
    let header = parse_authorization(authorization)?;
    let scope = CredentialScope::parse(&header.credential)?;
    let signed_headers = parse_signed_headers(&header.signed_headers, SignatureLocation::Header)?;
    let Some(amz_date) = amz_date else {
        return Err(AuthFailure::incomplete(
            "Authorization header requires existence of a 'X-Amz-Date' header.",
        ));
    };
    let date = AmzDate::parse(amz_date).ok_or_else(|| {
        AuthFailure::incomplete(format!(
            "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '{amz_date}'"
        ))
    })?;
    Ok(SignatureClaim {
        location: SignatureLocation::Header,
        scope,
        signed_headers,
        signature: header.signature,
        date,
    })
}

/// Whether decoded query parameters carry a presigned signature.
pub fn is_presigned(parameters: &[(String, String)]) -> bool {
    parameters.iter().any(|(name, _)| {
        name == param::ALGORITHM || name == param::SIGNATURE || name == param::CREDENTIAL
    })
}

/// The claim of presigned query parameters (decoded, in order).
pub fn claim_from_query(parameters: &[(String, String)]) -> Result<SignatureClaim, AuthFailure> {
    let single = |name: &str| -> Result<Option<&str>, AuthFailure> {
        let mut values = parameters
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(AuthFailure::incomplete(format!(
                "the query parameter {name} appears more than once"
            )));
        }
        Ok(first)
    };
    let required = |name: &str| -> Result<&str, AuthFailure> {
        single(name)?.ok_or_else(|| {
            AuthFailure::incomplete(format!(
                "AWS query-string parameters must include '{name}'."
            ))
        })
    };
    let algorithm = required(param::ALGORITHM)?;
    if algorithm != ALGORITHM {
        return Err(AuthFailure::incomplete(format!(
            "X-Amz-Algorithm only supports '{ALGORITHM}', got '{algorithm}'"
        )));
    }
    let scope = CredentialScope::parse(required(param::CREDENTIAL)?)?;
    let amz_date = required(param::DATE)?;
    let date = AmzDate::parse(amz_date).ok_or_else(|| {
        AuthFailure::incomplete(format!(
            "X-Amz-Date must be in the ISO8601 basic format YYYYMMDD'T'HHMMSS'Z', got '{amz_date}'"
        ))
    })?;
    let expires = required(param::EXPIRES)?;
    let expires_seconds = expires
        .parse::<u64>()
        .ok()
        .filter(|seconds| expires.bytes().all(|byte| byte.is_ascii_digit()) && *seconds > 0)
        .ok_or_else(|| {
            AuthFailure::incomplete(format!(
                "X-Amz-Expires should be a number of seconds, got '{expires}'"
            ))
        })?;
    if expires_seconds > MAX_EXPIRES_SECONDS {
        return Err(AuthFailure::incomplete(format!(
            "X-Amz-Expires must be less than a week (in seconds) that is {MAX_EXPIRES_SECONDS}"
        )));
    }
    let location = SignatureLocation::Query { expires_seconds };
    let signed_headers = parse_signed_headers(required(param::SIGNED_HEADERS)?, location)?;
    let signature = required(param::SIGNATURE)?.to_owned();
    Ok(SignatureClaim {
        location,
        scope,
        signed_headers,
        signature,
        date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(failure: AuthFailure) -> String {
        match failure {
            AuthFailure::IncompleteSignature { message } => message,
            other => panic!("not incomplete: {other:?}"),
        }
    }

    #[test]
    fn authorization_headers_parse_in_any_order_and_spacing() {
        for header in [
            "AWS4-HMAC-SHA256 Credential=SGAKABCDEFGHIJ234567/20261123/eu-west-1/waf/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc",
            "AWS4-HMAC-SHA256 Signature=abc,SignedHeaders=host;x-amz-date,Credential=SGAKABCDEFGHIJ234567/20261123/eu-west-1/waf/aws4_request",
        ] {
            let parsed = parse_authorization(header).unwrap();
            assert_eq!(parsed.signature, "abc");
            assert_eq!(parsed.signed_headers, "host;x-amz-date");
            let scope = CredentialScope::parse(&parsed.credential).unwrap();
            assert_eq!(scope.region, "eu-west-1");
            assert_eq!(scope.service, "waf");
            assert_eq!(scope.date, "20261123");
        }
    }

    #[test]
    fn broken_authorization_headers_say_what_is_wrong() {
        let table = [
            ("Bearer abc", "Unsupported authorization type 'Bearer'"),
            ("", "Unsupported authorization type ''"),
            (
                "AWS4-HMAC-SHA256 Credential=a/b/c/d/aws4_request, Signature=abc",
                "Authorization header requires 'SignedHeaders' parameter.",
            ),
            (
                "AWS4-HMAC-SHA256",
                "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter.",
            ),
            (
                "AWS4-HMAC-SHA256 Credential",
                "not a valid key=value pair (missing equal-sign)",
            ),
            (
                "AWS4-HMAC-SHA256 Signature=a, Signature=b, Credential=c, SignedHeaders=host",
                "more than once",
            ),
        ];
        for (header, expected) in table {
            let failure = message(parse_authorization(header).unwrap_err());
            assert!(failure.contains(expected), "{header:?}: {failure}");
        }
    }

    #[test]
    fn scopes_have_five_parts_ending_in_aws4_request() {
        for bad in [
            "AKID",
            "AKID/20261123/eu-west-1/waf",
            "AKID/20261123/eu-west-1/waf/aws4_request/extra",
            "/20261123/eu-west-1/waf/aws4_request",
            "AKID/20261123//waf/aws4_request",
            "AKID/20261123/eu-west-1/waf/aws5_request",
        ] {
            assert!(CredentialScope::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signed_headers_must_include_host_and_the_date() {
        assert!(parse_signed_headers("host;x-amz-date", SignatureLocation::Header).is_ok());
        assert!(parse_signed_headers("x-amz-date", SignatureLocation::Header).is_err());
        assert!(parse_signed_headers("host", SignatureLocation::Header).is_err());
        let query = SignatureLocation::Query {
            expires_seconds: 60,
        };
        assert!(parse_signed_headers("host", query).is_ok());
        assert!(parse_signed_headers("Host", query).is_err());
        assert!(parse_signed_headers("host;;x", query).is_err());
    }

    #[test]
    fn amz_dates_round_trip_and_refuse_other_forms() {
        let date = AmzDate::parse("20261123T103000Z").unwrap();
        assert_eq!(date.to_string(), "20261123T103000Z");
        assert_eq!(date.date(), "20261123");
        assert_eq!(date.plus_seconds(-900).to_string(), "20261123T101500Z");
        assert_eq!(AmzDate::from_system_time(date.to_system_time()), date);
        for bad in [
            "",
            "2026-11-23T10:30:00Z",
            "20261123T103000",
            "20261323T103000Z",
            "20260230T103000Z",
            "20261123T250000Z",
            "2026112xT103000Z",
            "20261123T103000Z ",
        ] {
            assert_eq!(AmzDate::parse(bad), None, "{bad:?}");
        }
    }

    fn pairs(text: &str) -> Vec<(String, String)> {
        url::form_urlencoded::parse(text.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn presigned_parameters_need_every_signing_parameter() {
        let complete = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=SGAKABCDEFGHIJ234567%2F20261123%2Fus-east-1%2Fcloudcontrolapi%2Faws4_request&X-Amz-Date=20261123T103000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature=abc";
        let claim = claim_from_query(&pairs(complete)).unwrap();
        assert_eq!(
            claim.location,
            SignatureLocation::Query {
                expires_seconds: 300
            }
        );
        assert_eq!(claim.scope.service, "cloudcontrolapi");
        assert!(is_presigned(&pairs(complete)));
        assert!(!is_presigned(&pairs("Action=GetResourceRequestStatus")));
        for name in param::SIGNING {
            let without: Vec<(String, String)> = pairs(complete)
                .into_iter()
                .filter(|(key, _)| key != name)
                .collect();
            assert!(claim_from_query(&without).is_err(), "without {name}");
        }
        let twice = format!("{complete}&X-Amz-Date=20261123T103000Z");
        assert!(claim_from_query(&pairs(&twice)).is_err());
        let too_long = complete.replace("X-Amz-Expires=300", "X-Amz-Expires=604801");
        assert!(message(claim_from_query(&pairs(&too_long)).unwrap_err()).contains("604800"));
    }
}
