//! The AWS SigV4 test suite, verified as a server would: each vector's
//! signed request (header and presigned forms) is read as received, and its
//! signature must verify with the vector's secret at the vector's time, and
//! stop verifying once altered. The vectors are facts shipped inside the
//! `aws-sigv4` crate's source (`aws-signing-test-suite/v4/`), read from the
//! Cargo registry where that crate is unpacked for the build.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderName, HeaderValue};

use super::super::auth_failure::AuthFailure;
use super::{
    PathNormalisation, SignedRequest, check_scope_and_time, expected_signature, read_claim,
    signatures_match,
};

/// Vectors whose request no HTTP server receives, or that assume a signer
/// other than the one every service but S3 uses.
const NOT_APPLICABLE: [(&str, &str); 7] = [
    (
        "double-encode-path",
        "a canonical request alone: no context.json, no credentials to verify with",
    ),
    (
        "double-url-encode",
        "a canonical request alone: no context.json, no credentials to verify with",
    ),
    (
        "get-header-value-multiline",
        "obsolete line folding, which HTTP/1.1 servers refuse (RFC 7230 3.2.4)",
    ),
    (
        "get-space-unnormalized",
        "a raw space in the request target is not a valid HTTP request",
    ),
    (
        "get-utf8",
        "raw non-ASCII bytes in the request target are not a valid HTTP request",
    ),
    (
        "get-vanilla-utf8-query",
        "raw non-ASCII bytes in the request target are not a valid HTTP request",
    ),
    (
        "get-space-normalized",
        "expects a single-encoded path; services other than S3 double-encode",
    ),
];

/// Vectors signed with a session token, which statusgate refuses.
const WITH_SESSION_TOKEN: [&str; 3] = [
    "get-vanilla-with-session-token",
    "post-sts-header-after",
    "post-sts-header-before",
];

fn suite_directory() -> PathBuf {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
        .expect("CARGO_HOME or HOME is set");
    let mut candidates: Vec<PathBuf> = std::fs::read_dir(cargo_home.join("registry/src"))
        .expect("the Cargo registry sources exist")
        .flatten()
        .flat_map(|index| {
            std::fs::read_dir(index.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("aws-sigv4-"))
                && path.join("aws-signing-test-suite/v4").is_dir()
        })
        .collect();
    candidates.sort();
    candidates
        .pop()
        .expect("aws-sigv4's source, with its test suite, is in the Cargo registry")
        .join("aws-signing-test-suite/v4")
}

struct Received {
    method: String,
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Reads `METHOD target HTTP/1.1`, `Name:value` lines, a blank line, the body.
fn parse_request(text: &str) -> Received {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().expect("a request line");
    let mut parts = request_line.splitn(3, ' ');
    let method = parts.next().unwrap().to_owned();
    let target = parts.next().unwrap().to_owned();
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("Name:value");
        headers.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            // Servers strip optional whitespace around a value.
            HeaderValue::from_str(value.trim_matches([' ', '\t'])).unwrap(),
        );
    }
    Received {
        method,
        target,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

struct Context {
    secret: String,
    service: String,
    normalise: bool,
    time: SystemTime,
}

fn context(directory: &Path) -> Context {
    let text = std::fs::read_to_string(directory.join("context.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let timestamp = json["timestamp"].as_str().unwrap();
    let time =
        time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339)
            .unwrap()
            .into();
    Context {
        secret: json["credentials"]["secret_access_key"]
            .as_str()
            .unwrap()
            .to_owned(),
        service: json["service"].as_str().unwrap().to_owned(),
        normalise: json["normalize"].as_bool().unwrap(),
        time,
    }
}

enum Outcome {
    Verified,
    SessionTokenRefused,
}

fn verify_vector(directory: &Path, file: &str, expected_signature_file: &str) -> Outcome {
    let context = context(directory);
    let received = parse_request(&std::fs::read_to_string(directory.join(file)).unwrap());
    let (path, query) = match received.target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (received.target.as_str(), None),
    };
    let request = SignedRequest {
        method: &received.method,
        path,
        query,
        authority: None,
        headers: &received.headers,
        body: &received.body,
    };
    let claim = match read_claim(&request) {
        Err(AuthFailure::SessionToken) => return Outcome::SessionTokenRefused,
        Err(failure) => panic!("{}/{file}: {failure:?}", directory.display()),
        Ok(claim) => {
            claim.unwrap_or_else(|| panic!("{}/{file}: no signature", directory.display()))
        }
    };
    check_scope_and_time(&claim, &context.service, context.time)
        .unwrap_or_else(|failure| panic!("{}/{file}: {failure:?}", directory.display()));
    let normalisation = if context.normalise {
        PathNormalisation::Normalise
    } else {
        PathNormalisation::AsSent
    };
    let expected = expected_signature(&request, &claim, &context.secret, normalisation)
        .unwrap_or_else(|failure| panic!("{}/{file}: {failure:?}", directory.display()));
    let published = std::fs::read_to_string(directory.join(expected_signature_file)).unwrap();
    assert_eq!(expected, published.trim(), "{}/{file}", directory.display());
    assert!(
        signatures_match(&expected, &claim.signature),
        "{}/{file}",
        directory.display()
    );
    let mut altered = claim.signature.clone().into_bytes();
    altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
    assert!(!signatures_match(
        &expected,
        std::str::from_utf8(&altered).unwrap()
    ));
    let wrong_secret =
        expected_signature(&request, &claim, "not-the-secret", normalisation).unwrap();
    assert!(!signatures_match(&wrong_secret, &claim.signature));
    Outcome::Verified
}

#[test]
fn every_applicable_vector_of_the_aws_test_suite_verifies() {
    let suite = suite_directory();
    let mut names: Vec<String> = std::fs::read_dir(&suite)
        .unwrap()
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 30, "the suite has its vectors: {names:?}");
    let mut verified = 0;
    for name in &names {
        if NOT_APPLICABLE.iter().any(|(skipped, _)| skipped == name) {
            continue;
        }
        let directory = suite.join(name);
        for (request, signature) in [
            ("header-signed-request.txt", "header-signature.txt"),
            ("query-signed-request.txt", "query-signature.txt"),
        ] {
            match verify_vector(&directory, request, signature) {
                Outcome::Verified => {
                    assert!(
                        !WITH_SESSION_TOKEN.contains(&name.as_str()),
                        "{name} carries a token"
                    );
                    verified += 1;
                }
                Outcome::SessionTokenRefused => {
                    assert!(
                        WITH_SESSION_TOKEN.contains(&name.as_str()),
                        "{name}/{request}"
                    );
                }
            }
        }
    }
    let expected = 2 * (names.len() - NOT_APPLICABLE.len() - WITH_SESSION_TOKEN.len());
    assert_eq!(verified, expected, "every applicable vector, both forms");
}
