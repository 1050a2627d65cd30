//! Listing cursors (`NextToken`) of `ListResourceRequests` and
//! `ListChangeTokens`. A cursor names the caller's own last listed item: the
//! listing's prefix, the microsecond the item was recorded and its key (a
//! request token, a change token), in base64 (the model's `NextToken`
//! pattern). The store pages after that item with a keyset lookup scoped to
//! the account, so a cursor tells nothing about other accounts, and one of
//! another account names nothing. The time tells an expired cursor (its item
//! purged) from an unknown one (refused); forging it can only end a listing
//! early or restart it within the caller's own items. Each listing has its
//! own prefix, so one listing's cursor is refused by the other.
//! `ListResourceRequests`' `v1:` cursors held a global sequence number, which
//! told how many requests other tenants made; they are refused.
//!
//! An authenticated encrypted cursor would hide the key too, but the caller
//! already holds it (it was listed), and the plain form needs no key shared
//! between replicas.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::domain::values::NextToken;
use crate::domain::{Error, FieldViolation, Timestamp};

/// A listing that pages with these cursors.
#[derive(Debug, Clone, Copy)]
pub(super) struct Listing {
    /// The operation, named when one of its cursors is refused.
    operation: &'static str,
    /// What every cursor of this listing starts with (before base64).
    prefix: &'static str,
    /// What the cursors of an earlier version of this listing started with.
    retired_prefix: Option<&'static str>,
}

pub(super) const RESOURCE_REQUESTS: Listing = Listing {
    operation: "ListResourceRequests",
    prefix: "v2:",
    retired_prefix: Some("v1:"),
};

pub(super) const CHANGE_TOKENS: Listing = Listing {
    operation: "ListChangeTokens",
    prefix: "ct1:",
    retired_prefix: None,
};

/// Where a listing goes on from: the last item listed and when it was
/// recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Cursor<Key> {
    pub created_at: Timestamp,
    pub key: Key,
}

pub(super) fn invalid_cursor(token: &NextToken, constraint: &str) -> Error {
    Error::invalid_input(FieldViolation::invalid(
        NextToken::MEMBER,
        token.as_str(),
        constraint,
    ))
}

impl Listing {
    pub(super) fn encode(&self, created_at: Timestamp, key: &str) -> String {
        BASE64.encode(format!("{}{}:{key}", self.prefix, created_at.as_micros()))
    }

    /// A cursor of this listing, its key parsed by `parse_key`.
    pub(super) fn decode<Key>(
        &self,
        token: &NextToken,
        parse_key: impl FnOnce(String) -> Result<Key, FieldViolation>,
    ) -> Result<Cursor<Key>, Error> {
        let invalid = || {
            invalid_cursor(
                token,
                &format!("Member must be a NextToken returned by {}", self.operation),
            )
        };
        let bytes = BASE64.decode(token.as_str()).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        if self
            .retired_prefix
            .is_some_and(|retired| text.starts_with(retired))
        {
            return Err(invalid_cursor(
                token,
                "Member must be a NextToken of this version of statusgate; list again without NextToken",
            ));
        }
        let (created_at, key) = text
            .strip_prefix(self.prefix)
            .and_then(|rest| rest.split_once(':'))
            .ok_or_else(invalid)?;
        Ok(Cursor {
            created_at: Timestamp::from_micros(created_at.parse().map_err(|_| invalid())?),
            key: parse_key(key.to_owned()).map_err(|_| invalid())?,
        })
    }

    /// A well-formed cursor that names nothing of the caller's account.
    pub(super) fn not_of_this_account(&self, token: &NextToken) -> Error {
        invalid_cursor(
            token,
            &format!(
                "Member must be a NextToken returned by {} to this account",
                self.operation
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorCode;
    use crate::domain::values::{ChangeToken, RequestToken};

    fn request_token(value: String) -> Result<RequestToken, FieldViolation> {
        RequestToken::parse(value)
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_a_validation_error() {
        let token = RequestToken::parse("b4a1cc5a-a2ae-4dec-9e1e-150123456789").unwrap();
        for micros in [0, 1_700_000_000_000_000, i64::MAX] {
            let encoded = RESOURCE_REQUESTS.encode(Timestamp::from_micros(micros), token.as_str());
            let next_token = NextToken::parse(encoded).unwrap();
            let cursor = RESOURCE_REQUESTS
                .decode(&next_token, request_token)
                .unwrap();
            assert_eq!(cursor.created_at.as_micros(), micros);
            assert_eq!(cursor.key, token);
        }
        // "abc", "v1:x", "nope", "v2:12" and "v2:x:tok"
        for garbage in ["abc", "djE6eA==", "bm9wZQ==", "djI6MTI=", "djI6eDp0b2s="] {
            let error = RESOURCE_REQUESTS
                .decode(&NextToken::parse(garbage).unwrap(), request_token)
                .unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidParameter, "{garbage}");
            assert_eq!(error.violation.unwrap().member, "NextToken");
        }
    }

    #[test]
    fn cursors_of_the_global_sequence_are_refused_with_a_clear_message() {
        let retired = NextToken::parse(BASE64.encode("v1:42")).unwrap();
        let error = RESOURCE_REQUESTS
            .decode(&retired, request_token)
            .unwrap_err();
        assert!(
            error.message.contains("list again without NextToken"),
            "{}",
            error.message
        );
    }

    #[test]
    fn one_listings_cursor_is_refused_by_the_other() {
        let token = "b4a1cc5a-a2ae-4dec-9e1e-150123456789";
        let at = Timestamp::from_micros(1_700_000_000_000_000);
        let of_requests = NextToken::parse(RESOURCE_REQUESTS.encode(at, token)).unwrap();
        let refused = CHANGE_TOKENS
            .decode(&of_requests, ChangeToken::parse)
            .unwrap_err();
        assert!(
            refused.message.contains("returned by ListChangeTokens"),
            "{}",
            refused.message
        );
        let of_tokens = NextToken::parse(CHANGE_TOKENS.encode(at, token)).unwrap();
        assert!(RESOURCE_REQUESTS.decode(&of_tokens, request_token).is_err());
        let cursor = CHANGE_TOKENS
            .decode(&of_tokens, ChangeToken::parse)
            .unwrap();
        assert_eq!((cursor.created_at, cursor.key.as_str()), (at, token));
    }
}
