//! The awsJson body into each input shape: `X-Amz-Target` routed, the body
//! parsed as one JSON object, decoded into the operation's input and its
//! members checked, as the facade does before it calls a service.
//!
//! Input: the target on the first line, the body after it (a line
//! `#<n>` instead of a target picks the n-th known target, so that the
//! fuzzer reaches every shape without spelling its name).
//!
//! Checked: nothing panics, and every refusal is a 4xx awsJson error whose
//! body is a JSON object naming the error in `__type`, the same name as
//! `x-amzn-ErrorType`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statusgate::http::fuzzing::{Answer, aws_json};

const TARGETS: [&str; 10] = [
    "AWSWAF_20150824.GetChangeToken",
    "AWSWAF_20150824.GetChangeTokenStatus",
    "AWSWAF_Regional_20161128.GetChangeToken",
    "AWSWAF_Regional_20161128.GetChangeTokenStatus",
    "CloudApiService.GetResourceRequestStatus",
    "CloudApiService.ListResourceRequests",
    "CloudApiService.CancelResourceRequest",
    "CloudApiService.CreateResource",
    "CloudApiService.UpdateResource",
    "CloudApiService.DeleteResource",
];

fuzz_target!(|data: &[u8]| {
    let (first_line, body) = match data.iter().position(|byte| *byte == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (data, &[][..]),
    };
    let Ok(first_line) = std::str::from_utf8(first_line) else {
        return;
    };
    let target = match first_line.strip_prefix('#') {
        Some(index) => match index.parse::<usize>() {
            Ok(index) => TARGETS[index % TARGETS.len()],
            Err(_) => first_line,
        },
        None => first_line,
    };
    let Answer::Refused {
        status,
        content_type,
        error_type,
        body,
    } = aws_json(target, body)
    else {
        return;
    };
    assert!((400..500).contains(&status), "status {status}");
    assert!(
        content_type.starts_with("application/x-amz-json-1."),
        "{content_type}"
    );
    let json: serde_json::Value = serde_json::from_slice(&body).expect("an error body is JSON");
    let name = json["__type"].as_str().expect("__type is a string");
    assert!(!name.is_empty());
    assert_eq!(error_type.as_deref(), Some(name), "x-amzn-ErrorType");
    let message = json.get("message").or_else(|| json.get("Message"));
    assert!(
        message.is_some_and(serde_json::Value::is_string),
        "a message: {json}"
    );
    assert!(json.get("code").is_none() && json.get("Code").is_none());
});
