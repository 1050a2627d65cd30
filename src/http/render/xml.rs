//! The little XML the query form answers with. The documents are flat, have a
//! fixed shape and carry only text, so writing them takes one escaping
//! function rather than an XML library: `&`, `<`, `>`, `"` and `'` become
//! entities, and the control characters XML 1.0 cannot carry at all (not
//! even as references) become U+FFFD.

use axum::http::{HeaderValue, StatusCode, header::CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

pub const XML_CONTENT_TYPE: &str = "text/xml";

/// Appends `text` with XML's special characters escaped.
pub fn push_escaped(document: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => document.push_str("&amp;"),
            '<' => document.push_str("&lt;"),
            '>' => document.push_str("&gt;"),
            '"' => document.push_str("&quot;"),
            '\'' => document.push_str("&apos;"),
            '\t' | '\n' | '\r' => document.push(character),
            control if control < ' ' => document.push(char::REPLACEMENT_CHARACTER),
            other => document.push(other),
        }
    }
}

/// Appends `<name>text</name>`; `name` is one of our own element names.
pub fn push_element(document: &mut String, name: &str, text: &str) {
    document.push('<');
    document.push_str(name);
    document.push('>');
    push_escaped(document, text);
    document.push_str("</");
    document.push_str(name);
    document.push('>');
}

pub fn response(status: StatusCode, document: String) -> Response {
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(XML_CONTENT_TYPE))],
        document,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_and_control_characters_are_escaped() {
        let mut document = String::new();
        push_element(
            &mut document,
            "ResourceModel",
            "{\"a\":\"<b> & 'c'\"}\u{1}\tü",
        );
        assert_eq!(
            document,
            "<ResourceModel>{&quot;a&quot;:&quot;&lt;b&gt; &amp; &apos;c&apos;&quot;}\u{FFFD}\tü</ResourceModel>"
        );
    }
}
