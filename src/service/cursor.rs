//! `ListResourceRequests` cursors (`NextToken`). A cursor names the caller's
//! own last listed request: `v2:`, the microsecond it was recorded and its
//! request token, in base64 (the model's `NextToken` pattern). The store
//! pages after that request with a keyset lookup scoped to the account, so a
//! cursor tells nothing about other accounts, and one of another account
//! names nothing. The time tells an expired cursor (its request purged: the
//! listing has ended) from an unknown one (refused); forging it can only end
//! a listing early. `v1:` cursors held a global sequence number, which told
//! how many requests other tenants made; they are refused.
//!
//! An authenticated encrypted cursor would hide the request token too, but
//! the caller already holds that token (it was listed), and the plain form
//! needs no key shared between replicas.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::domain::values::{NextToken, RequestToken};
use crate::domain::{Error, FieldViolation, Timestamp};

const CURSOR_PREFIX: &str = "v2:";
const RETIRED_CURSOR_PREFIX: &str = "v1:";

/// Where a listing goes on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cursor {
    pub created_at: Timestamp,
    pub request_token: RequestToken,
}

pub(super) fn encode_cursor(created_at: Timestamp, request_token: &RequestToken) -> String {
    BASE64.encode(format!(
        "{CURSOR_PREFIX}{}:{request_token}",
        created_at.as_micros()
    ))
}

pub(super) fn invalid_cursor(token: &NextToken, constraint: &str) -> Error {
    Error::invalid_input(FieldViolation::invalid(
        NextToken::MEMBER,
        token.as_str(),
        constraint,
    ))
}

pub(super) fn decode_cursor(token: &NextToken) -> Result<Cursor, Error> {
    let invalid = || {
        invalid_cursor(
            token,
            "Member must be a NextToken returned by ListResourceRequests",
        )
    };
    let bytes = BASE64.decode(token.as_str()).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    if text.starts_with(RETIRED_CURSOR_PREFIX) {
        return Err(invalid_cursor(
            token,
            "Member must be a NextToken of this version of statusgate; list again without NextToken",
        ));
    }
    let (created_at, request_token) = text
        .strip_prefix(CURSOR_PREFIX)
        .and_then(|rest| rest.split_once(':'))
        .ok_or_else(invalid)?;
    Ok(Cursor {
        created_at: Timestamp::from_micros(created_at.parse().map_err(|_| invalid())?),
        request_token: RequestToken::parse(request_token).map_err(|_| invalid())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorCode;

    #[test]
    fn cursors_round_trip_and_garbage_is_a_validation_error() {
        let request_token = RequestToken::parse("b4a1cc5a-a2ae-4dec-9e1e-150123456789").unwrap();
        for micros in [0, 1_700_000_000_000_000, i64::MAX] {
            let encoded = encode_cursor(Timestamp::from_micros(micros), &request_token);
            let token = NextToken::parse(encoded).unwrap();
            let cursor = decode_cursor(&token).unwrap();
            assert_eq!(cursor.created_at.as_micros(), micros);
            assert_eq!(cursor.request_token, request_token);
        }
        // "abc", "v1:x", "nope", "v2:12" and "v2:x:tok"
        for garbage in ["abc", "djE6eA==", "bm9wZQ==", "djI6MTI=", "djI6eDp0b2s="] {
            let error = decode_cursor(&NextToken::parse(garbage).unwrap()).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidParameter, "{garbage}");
            assert_eq!(error.violation.unwrap().member, "NextToken");
        }
    }

    #[test]
    fn cursors_of_the_global_sequence_are_refused_with_a_clear_message() {
        let retired = NextToken::parse(BASE64.encode("v1:42")).unwrap();
        let error = decode_cursor(&retired).unwrap_err();
        assert!(
            error.message.contains("list again without NextToken"),
            "{}",
            error.message
        );
    }
}
