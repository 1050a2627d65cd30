//! SigV4 canonicalisation and verification, as a round trip: a request
//! made of fuzzed parts (method, path, query, headers, body, key, region,
//! service, signing time, header or presigned form, HTTP/1.1 `Host` or
//! HTTP/2 authority) is signed the way the AWS SDKs sign it (`aws-sigv4`
//! with its default settings), received as the facade receives it, and
//! verified by the facade's three steps.
//!
//! Checked: nothing panics; every request the SDK's signer signs verifies
//! when the server's clock is within the signature's window; and a wrong
//! secret, a changed body, a changed signature or another method never
//! verifies (`InvalidSignatureException`), and its refusal renders.

#![no_main]

use std::time::{Duration, SystemTime};

use arbitrary::Arbitrary;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_smithy_runtime_api::client::identity::Identity;
use libfuzzer_sys::fuzz_target;
use statusgate::http::fuzzing::{
    Answer, SERVICES, SignedRequest, auth_failure_answer, sigv4_verify,
};

/// 2000-01-01T00:00:00Z: signing times are this plus up to 2^32 s (2136).
const EPOCH_2000: u64 = 946_684_800;
const AUTHORITY: &str = "statusgate.test:8080";
const METHODS: [&str; 5] = ["POST", "GET", "PUT", "DELETE", "PATCH"];

/// Headers the SDK never sends alongside its own signature, or that a
/// request carrying one cannot have (they are the signature's own).
const NOT_SENT: [&str; 5] = [
    "host",
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

#[derive(Debug, Arbitrary)]
struct Case<'a> {
    method: u8,
    service: u8,
    presigned: bool,
    /// HTTP/2: no `Host` header, the authority in the URI.
    http2: bool,
    expires_seconds: u32,
    signing_time: u32,
    clock_offset: u16,
    tamper: u8,
    access_key_id: &'a str,
    secret_access_key: &'a str,
    region: &'a str,
    path: &'a str,
    query: Vec<(&'a str, &'a str)>,
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

fn only(text: &str, allowed: impl Fn(char) -> bool, fallback: &str) -> String {
    let kept: String = text.chars().filter(|c| allowed(*c)).take(64).collect();
    if kept.is_empty() {
        fallback.to_owned()
    } else {
        kept
    }
}

/// Whether a query parameter's name, decoded, is one of SigV4's own.
fn is_signing_parameter(name: &str) -> bool {
    url::form_urlencoded::parse(name.as_bytes())
        .next()
        .is_some_and(|(decoded, _)| decoded.to_ascii_lowercase().starts_with("x-amz-"))
}

fuzz_target!(|case: Case<'_>| {
    let method = METHODS[usize::from(case.method) % METHODS.len()];
    let service = SERVICES[usize::from(case.service) % SERVICES.len()];
    let access_key_id = only(case.access_key_id, |c| c.is_ascii_alphanumeric(), "AKID");
    let region = only(
        case.region,
        |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-',
        "eu-west-1",
    );
    let path = if case.path.starts_with('/') {
        case.path.to_owned()
    } else {
        format!("/{}", case.path)
    };
    let query: Vec<String> = case
        .query
        .iter()
        .filter(|(name, _)| !is_signing_parameter(name))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let mut uri_text = format!("http://{AUTHORITY}{path}");
    if !query.is_empty() {
        uri_text.push('?');
        uri_text.push_str(&query.join("&"));
    }
    let Ok(uri) = uri_text.parse::<http::Uri>() else {
        return;
    };
    if uri.authority().map(http::uri::Authority::as_str) != Some(AUTHORITY) {
        return;
    }
    // A `?` in the path or a `&` in a value can make parameters of their
    // own: the request may carry none of SigV4's own before it is signed.
    if uri.query().is_some_and(|query| {
        url::form_urlencoded::parse(query.as_bytes())
            .any(|(name, _)| name.to_ascii_lowercase().starts_with("x-amz-"))
    }) {
        return;
    }
    let mut request = http::Request::builder()
        .method(method)
        .uri(uri)
        .body(case.body.to_vec())
        .expect("a request");
    for (name, value) in &case.headers {
        let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) else {
            continue;
        };
        if NOT_SENT.contains(&name.as_str()) {
            continue;
        }
        request.headers_mut().append(name, value);
    }

    // Sign as the SDK does.
    let signing_time =
        SystemTime::UNIX_EPOCH + Duration::from_secs(EPOCH_2000 + u64::from(case.signing_time));
    let mut settings = SigningSettings::default();
    let expires_seconds = u64::from(case.expires_seconds % (7 * 24 * 3600)) + 1;
    if case.presigned {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(Duration::from_secs(expires_seconds));
    }
    let identity: Identity = Credentials::new(
        access_key_id.as_str(),
        case.secret_access_key,
        None,
        None,
        "fuzz",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name(service.signing_name())
        .time(signing_time)
        .settings(settings)
        .build()
        .expect("signing parameters")
        .into();
    let Ok(header_texts) = request
        .headers()
        .iter()
        .map(|(name, value)| value.to_str().map(|value| (name.as_str(), value)))
        .collect::<Result<Vec<_>, _>>()
    else {
        return;
    };
    let Ok(signable) = SignableRequest::new(
        method,
        request.uri().to_string(),
        header_texts.into_iter(),
        SignableBody::Bytes(case.body),
    ) else {
        return;
    };
    let Ok(signed) = sign(signable, &params) else {
        return;
    };
    let (instructions, _) = signed.into_parts();
    instructions.apply_to_request_http1x(&mut request);

    // Receive it as the facade does.
    let (parts, body) = request.into_parts();
    let mut headers = parts.headers.clone();
    if !case.http2 {
        headers.insert(
            http::header::HOST,
            http::HeaderValue::from_static(AUTHORITY),
        );
    }
    let received = SignedRequest {
        method,
        path: parts.uri.path(),
        query: parts.uri.query(),
        authority: case.http2.then_some(AUTHORITY),
        headers: &headers,
        body: &body,
    };
    let window = if case.presigned {
        expires_seconds.min(900)
    } else {
        900
    };
    let offset = i64::from(case.clock_offset) % (900 + i64::try_from(window).unwrap() + 1) - 900;
    let now = if offset >= 0 {
        signing_time + Duration::from_secs(offset.unsigned_abs())
    } else {
        signing_time - Duration::from_secs(offset.unsigned_abs())
    };
    if let Err(failure) = sigv4_verify(&received, service, now, case.secret_access_key) {
        panic!("a request the SDK signed does not verify: {failure:?}\n{received:#?}");
    }

    // Whatever is changed, it no longer verifies.
    let wrong_secret = format!("{}x", case.secret_access_key);
    let mut changed_body = body.clone();
    changed_body.push(b'!');
    let other_method = METHODS[(usize::from(case.method) + 1) % METHODS.len()];
    let mut tampered_headers = headers.clone();
    let mut tampered = received;
    let mut secret = case.secret_access_key;
    let tampered_query;
    match case.tamper % 4 {
        0 => secret = &wrong_secret,
        1 => tampered.body = &changed_body,
        2 => tampered.method = other_method,
        _ => {
            if case.presigned {
                let query = parts.uri.query().unwrap_or_default();
                let Some(at) = query.rfind("X-Amz-Signature=") else {
                    panic!("a presigned query without its signature: {query}");
                };
                let digit = at + "X-Amz-Signature=".len();
                let mut bytes = query.as_bytes().to_vec();
                bytes[digit] = if bytes[digit] == b'0' { b'1' } else { b'0' };
                tampered_query = String::from_utf8(bytes).unwrap();
                tampered.query = Some(&tampered_query);
            } else {
                let authorization = headers[http::header::AUTHORIZATION].to_str().unwrap();
                let mut changed = authorization.to_owned();
                let last = changed.pop().unwrap();
                changed.push(if last == '0' { '1' } else { '0' });
                tampered_headers.insert(
                    http::header::AUTHORIZATION,
                    http::HeaderValue::from_str(&changed).unwrap(),
                );
                tampered.headers = &tampered_headers;
            }
        }
    }
    let Err(failure) = sigv4_verify(&tampered, service, now, secret) else {
        panic!(
            "a tampered request verifies (tamper {}): {tampered:#?}",
            case.tamper % 4
        );
    };
    let Answer::Refused { status, body, .. } = auth_failure_answer(failure.clone(), service) else {
        panic!("a failure that is not refused");
    };
    assert_eq!(status, 400, "{failure:?}");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("an error body is JSON");
    assert_eq!(
        json["__type"], "InvalidSignatureException",
        "{failure:?}: {tampered:#?}"
    );
});
