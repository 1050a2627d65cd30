//! The query form: `?Action=GetResourceRequestStatus&RequestToken=...`
//! as a query string or a form-encoded body, the action and version
//! checked, the unverified caller read off `Authorization` or
//! `X-Amz-Credential`, the request token checked.
//!
//! Input: one byte (`G`: the rest is a `GET` query string; anything else:
//! a form-encoded `POST` body), then the `Authorization` header value up
//! to the first newline (empty: none), then the parameters.
//!
//! Checked: nothing panics, and every refusal is a 4xx `text/xml`
//! `ErrorResponse` that is well-formed XML with a `Code` and a `Message`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use statusgate::http::fuzzing::{Answer, query_form};

fuzz_target!(|data: &[u8]| {
    let Some((&form, rest)) = data.split_first() else {
        return;
    };
    let (authorization, parameters) = match rest.iter().position(|byte| *byte == b'\n') {
        Some(end) => (&rest[..end], &rest[end + 1..]),
        None => (&[][..], rest),
    };
    let authorization = (!authorization.is_empty()).then_some(authorization);
    let answer = if form == b'G' {
        // A URI's query is text: hyper hands over only what parsed as one.
        let Ok(query) = std::str::from_utf8(parameters) else {
            return;
        };
        query_form(Some(query), &[], authorization)
    } else {
        query_form(None, parameters, authorization)
    };
    let Answer::Refused {
        status,
        content_type,
        body,
        ..
    } = answer
    else {
        return;
    };
    assert!((400..500).contains(&status), "status {status}");
    assert_eq!(content_type, "text/xml");
    let text = std::str::from_utf8(&body).expect("the document is UTF-8");
    let document = roxmltree::Document::parse(text)
        .unwrap_or_else(|error| panic!("not well-formed XML ({error}): {text:?}"));
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "ErrorResponse");
    let error = root
        .children()
        .find(|node| node.has_tag_name("Error"))
        .expect("an Error element");
    let child = |name: &str| {
        error
            .children()
            .find(|node| node.has_tag_name(name))
            .map(|node| node.text().unwrap_or_default().to_owned())
    };
    assert_eq!(child("Type").as_deref(), Some("Sender"));
    assert!(child("Code").is_some_and(|code| !code.is_empty()));
    assert!(child("Message").is_some());
});
