//! Reading a SigV4 signature: the `Authorization` header (with
//! `X-Amz-Date`) and presigned query parameters, as the verifier reads
//! them and as `--auth none` reads the caller, then the credential scope
//! and signing time checked against the server's clock.
//!
//! Input: one byte (bit 0: the header form, else the presigned query;
//! bits 1..: the service called), two bytes of clock offset in minutes
//! from 2026-11-23T10:30:00Z, then for the header form the `X-Amz-Date`
//! value up to the first newline (empty: none) and the `Authorization`
//! value after it; for the query form the query string.
//!
//! Checked: nothing panics, a date that parsed prints back the same (the
//! entry point asserts it), and every refusal is a 4xx awsJson error
//! whose `__type` is one of AWS's authentication errors (or a
//! `ValidationException` for a region the credential scope names).

#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use statusgate::http::fuzzing::{Answer, SERVICES, sigv4_header, sigv4_query};

/// 2026-11-23T10:30:00Z, the date of the seeds.
const SEED_TIME_SECONDS: u64 = 1_795_429_800;

const AUTH_ERRORS: [&str; 4] = [
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "InvalidSignatureException",
    "UnrecognizedClientException",
];

fuzz_target!(|data: &[u8]| {
    let [mode, high, low, rest @ ..] = data else {
        return;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return;
    };
    let service = SERVICES[usize::from(mode >> 1) % SERVICES.len()];
    let offset_minutes = i64::from(i16::from_be_bytes([*high, *low]));
    let seed_time = SystemTime::UNIX_EPOCH + Duration::from_secs(SEED_TIME_SECONDS);
    let offset = Duration::from_secs(offset_minutes.unsigned_abs() * 60);
    let now = if offset_minutes >= 0 {
        seed_time + offset
    } else {
        seed_time - offset
    };
    let answer = if mode & 1 == 1 {
        let (amz_date, authorization) = rest.split_once('\n').unwrap_or(("", rest));
        let amz_date = (!amz_date.is_empty()).then_some(amz_date);
        sigv4_header(authorization, amz_date, service, now)
    } else {
        sigv4_query(rest, service, now)
    };
    let Answer::Refused {
        status,
        error_type,
        body,
        ..
    } = answer
    else {
        return;
    };
    assert!((400..500).contains(&status), "status {status}");
    let json: serde_json::Value = serde_json::from_slice(&body).expect("an error body is JSON");
    let name = json["__type"].as_str().expect("__type is a string");
    assert_eq!(error_type.as_deref(), Some(name), "x-amzn-ErrorType");
    let validation =
        name.ends_with("ValidationException") || name == "WAFInvalidParameterException";
    assert!(
        AUTH_ERRORS.contains(&name) || validation,
        "an authentication error: {json}"
    );
});
