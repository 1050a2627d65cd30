//! Checking a SigV4 signature as AWS does, in three steps a caller runs in
//! order: [`read_claim`] (which form, if any, and is it readable),
//! [`check_scope_and_time`] (the credential scope names the service called
//! and the date signed; the time is within 15 minutes, or within
//! `X-Amz-Expires` for presigned requests), then, with the caller's secret,
//! [`verify_signature`].
//!
//! The signature maths and the canonical request (path normalisation and
//! double encoding, query ordering and encoding, header value trimming,
//! payload hash) are `aws-sigv4`'s, the AWS SDK for Rust's own signer: the
//! expected signature is computed by signing the received request again
//! with exactly the headers it says it signed (nothing excluded) at the time
//! it says it was signed, then compared in constant time (`subtle`). The
//! AWS SigV4 test suite, which ships inside that crate, checks this module
//! (`tests` below). What the signer cannot do is a decision here:
//! - a presigned request must carry `X-Amz-Expires` (the signer always
//!   signs one; botocore and every SDK presigner send it);
//! - `x-amz-content-sha256`, when sent, must be the SHA-256 of the body
//!   (`UNSIGNED-PAYLOAD` is S3's and is refused);
//! - the path is normalised and double-encoded as for every service but S3.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SignatureLocation as SignerLocation, SigningSettings, UriPathNormalizationMode, sign,
};
use aws_smithy_runtime_api::client::identity::Identity;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::auth_failure::AuthFailure;
use super::sigv4::{
    AmzDate, SignatureClaim, SignatureLocation, claim_from_header, claim_from_query, is_presigned,
    param,
};

/// How far the signing time may be from the server's clock, either way.
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

const X_AMZ_DATE: &str = "x-amz-date";
const X_AMZ_SECURITY_TOKEN: &str = "x-amz-security-token";
const X_AMZ_CONTENT_SHA256: &str = "x-amz-content-sha256";

/// The request as received, everything the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: Option<&'a str>,
    /// The URI's authority, for HTTP/2 requests that carry no `Host` header.
    pub authority: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    fn query_pairs(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect()
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AuthFailure> {
    headers
        .get(name)
        .map(|value| {
            value.to_str().map_err(|_| {
                AuthFailure::incomplete(format!("the {name} header is not ASCII text"))
            })
        })
        .transpose()
}

/// Step 1: the signature the request claims. `Ok(None)`: it claims none
/// (no `Authorization` header, no presigned parameters). Session tokens are
/// refused here, whatever else is wrong.
pub fn read_claim(request: &SignedRequest<'_>) -> Result<Option<SignatureClaim>, AuthFailure> {
    let pairs = request.query_pairs();
    if request.headers.contains_key(X_AMZ_SECURITY_TOKEN)
        || pairs.iter().any(|(name, _)| name == param::SECURITY_TOKEN)
    {
        return Err(AuthFailure::SessionToken);
    }
    let authorization = header_text(request.headers, "authorization")?;
    match (authorization, is_presigned(&pairs)) {
        (Some(_), true) => Err(AuthFailure::incomplete(
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified",
        )),
        (Some(authorization), false) => {
            let amz_date = header_text(request.headers, X_AMZ_DATE)?;
            claim_from_header(authorization, amz_date).map(Some)
        }
        (None, true) => claim_from_query(&pairs).map(Some),
        (None, false) => Ok(None),
    }
}

/// Step 2: what can be checked without the secret. The scope must name the
/// service called and the date signed; the signing time must be within
/// [`MAX_SKEW_SECONDS`] of `now` (a presigned request: not more than that in
/// the future, and not past its `X-Amz-Expires`). Messages are AWS's.
pub fn check_scope_and_time(
    claim: &SignatureClaim,
    service: &str,
    now: SystemTime,
) -> Result<(), AuthFailure> {
    if claim.scope.service != service {
        return Err(AuthFailure::invalid(format!(
            "Credential should be scoped to correct service: '{service}'. "
        )));
    }
    if claim.scope.date != claim.date.date() {
        return Err(AuthFailure::invalid(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{}'.",
            claim.scope.date,
            claim.date.date(),
            claim.date
        )));
    }
    let now = AmzDate::from_system_time(now);
    let latest = now.plus_seconds(MAX_SKEW_SECONDS);
    if claim.date > latest {
        return Err(AuthFailure::invalid(format!(
            "Signature not yet current: {} is still later than {latest} ({now} + 15 min.)",
            claim.date
        )));
    }
    match claim.location {
        SignatureLocation::Header => {
            let earliest = now.plus_seconds(-MAX_SKEW_SECONDS);
            if claim.date < earliest {
                return Err(AuthFailure::invalid(format!(
                    "Signature expired: {} is now earlier than {earliest} ({now} - 15 min.)",
                    claim.date
                )));
            }
        }
        SignatureLocation::Query { expires_seconds } => {
            let expires = i64::try_from(expires_seconds).unwrap_or(i64::MAX);
            let earliest = now.plus_seconds(-expires);
            if claim.date < earliest {
                return Err(AuthFailure::invalid(format!(
                    "Signature expired: {} is now earlier than {earliest} ({now} - {expires_seconds} sec.)",
                    claim.date
                )));
            }
        }
    }
    Ok(())
}

/// The query string without the presigned signing parameters, as sent.
fn query_without_signature(query: &str) -> String {
    query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            let decoded: String = url::form_urlencoded::parse(name.as_bytes())
                .map(|(key, _)| key.into_owned())
                .next()
                .unwrap_or_default();
            !param::SIGNING.contains(&decoded.as_str())
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The hex SHA-256 of the body, checked against `x-amz-content-sha256`
/// when the request sends it.
fn payload_hash(request: &SignedRequest<'_>) -> Result<String, AuthFailure> {
    let computed = hex::encode(Sha256::digest(request.body));
    match header_text(request.headers, X_AMZ_CONTENT_SHA256)? {
        None => Ok(computed),
        Some(sent) if sent.eq_ignore_ascii_case(&computed) => Ok(sent.to_owned()),
        Some(_) => Err(AuthFailure::invalid(
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )),
    }
}

/// Whether to normalise the path (`.`/`..` segments, repeated slashes)
/// before signing: every service but S3 does, and so does statusgate; the
/// test suite also has vectors for signers that do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathNormalisation {
    Normalise,
    /// Only the test suite's unnormalised vectors sign this way.
    #[cfg_attr(not(test), allow(dead_code))]
    AsSent,
}

/// The signature the request should carry, computed by `aws-sigv4` from
/// the received request and the caller's secret.
pub fn expected_signature(
    request: &SignedRequest<'_>,
    claim: &SignatureClaim,
    secret_access_key: &str,
    normalisation: PathNormalisation,
) -> Result<String, AuthFailure> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    for name in &claim.signed_headers {
        let mut found = false;
        for value in request.headers.get_all(name.as_str()) {
            let text = value.to_str().map_err(|_| {
                AuthFailure::incomplete(format!("the signed header {name} is not ASCII text"))
            })?;
            headers.push((name.as_str(), text));
            found = true;
        }
        if !found && name == "host" {
            let authority = request
                .authority
                .ok_or_else(|| AuthFailure::incomplete("the request has no Host header"))?;
            headers.push(("host", authority));
        }
    }
    let uri = match (claim.location, request.query) {
        (_, None) => request.path.to_owned(),
        (SignatureLocation::Header, Some(query)) => format!("{}?{query}", request.path),
        (SignatureLocation::Query { .. }, Some(query)) => {
            format!("{}?{}", request.path, query_without_signature(query))
        }
    };
    let payload_hash = payload_hash(request)?;
    let signable = SignableRequest::new(
        request.method,
        uri,
        headers.into_iter(),
        SignableBody::Precomputed(payload_hash),
    )
    .map_err(|error| {
        AuthFailure::incomplete(format!("the request cannot be canonicalised: {error}"))
    })?;

    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    settings.uri_path_normalization_mode = match normalisation {
        PathNormalisation::Normalise => UriPathNormalizationMode::Enabled,
        PathNormalisation::AsSent => UriPathNormalizationMode::Disabled,
    };
    // Sign exactly the headers the request lists, no fewer.
    settings.excluded_headers = Some(Vec::new());
    settings.session_token_mode = SessionTokenMode::Exclude;
    match claim.location {
        SignatureLocation::Header => settings.signature_location = SignerLocation::Headers,
        SignatureLocation::Query { expires_seconds } => {
            settings.signature_location = SignerLocation::QueryParams;
            settings.expires_in = Some(std::time::Duration::from_secs(expires_seconds));
        }
    }
    let identity: Identity = Credentials::new(
        claim.scope.access_key_id.as_str(),
        secret_access_key,
        None,
        None,
        "statusgate",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&claim.scope.region)
        .name(&claim.scope.service)
        .time(claim.date.to_system_time())
        .settings(settings)
        .build()
        .map_err(|error| AuthFailure::incomplete(error.to_string()))?
        .into();
    let signed = sign(signable, &params).map_err(|error| {
        AuthFailure::incomplete(format!("the request cannot be canonicalised: {error}"))
    })?;
    Ok(signed.signature().to_owned())
}

/// Step 3: the signature matches the one the secret gives (compared in
/// constant time).
pub fn verify_signature(
    request: &SignedRequest<'_>,
    claim: &SignatureClaim,
    secret_access_key: &str,
) -> Result<(), AuthFailure> {
    let expected = expected_signature(
        request,
        claim,
        secret_access_key,
        PathNormalisation::Normalise,
    )?;
    if signatures_match(&expected, &claim.signature) {
        Ok(())
    } else {
        Err(AuthFailure::invalid(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ))
    }
}

/// Constant-time equality of two signatures (the length is not secret: it
/// is always 64).
pub fn signatures_match(expected: &str, provided: &str) -> bool {
    expected.len() == provided.len() && bool::from(expected.as_bytes().ct_eq(provided.as_bytes()))
}

#[cfg(test)]
#[path = "sigv4_test_suite.rs"]
mod test_suite;
