//! Request and change tokens as the database keys them: a UUID in its
//! natural type (`uuid` on Postgres, a 16-byte `BLOB` on SQLite) rather
//! than its 36-character text, which halves the primary-key indexes and the
//! keys of every event row, so that the hot part of the indexes of millions
//! of requests stays in cache.
//!
//! Callers see only the AWS string form. statusgate writes every token as
//! a random UUID in lowercase hyphenated form, so that is the one form a
//! key converts from and back to: any other string AWS's token patterns
//! allow (upper case, no hyphens, not a UUID at all) names no stored token.
//! Lookups bind `TokenKey::of(token)`, an `Option`: such a string binds
//! `NULL`, which no `=` and no `IN` matches, so it is simply not found, as
//! any unknown token is, by the same statement and with no second path.

use uuid::Uuid;

use super::error::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct TokenKey(Uuid);

impl TokenKey {
    /// The key of `token` if it is a UUID in the lowercase hyphenated form
    /// statusgate writes; `None` for every other string.
    pub fn of(token: &str) -> Option<Self> {
        // 36 characters is only the hyphenated form among those `Uuid`
        // parses (simple is 32, braced 38, URN 45), and refusing upper case
        // keeps the one-to-one mapping with the stored string.
        if token.len() != 36 || token.bytes().any(|byte| byte.is_ascii_uppercase()) {
            return None;
        }
        Uuid::try_parse(token).ok().map(Self)
    }

    /// Sorts before every other key: the tie-break of a keyset seek that
    /// must pass every token.
    pub const SMALLEST: Self = Self(Uuid::nil());

    /// The key of a token statusgate is about to write.
    pub fn of_new(token: &str) -> Result<Self, StoreError> {
        Self::of(token).ok_or_else(|| {
            StoreError::Internal(format!("new token {token:?} is not a lowercase UUID"))
        })
    }

    /// The AWS string form.
    pub fn to_token_string(self) -> String {
        self.0.hyphenated().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::TokenKey;

    #[test]
    fn only_the_lowercase_hyphenated_form_has_a_key_and_it_round_trips() {
        let token = "0b6ec2e0-5c4f-4f3e-9a53-2f6d2d1f7c3a";
        assert_eq!(
            TokenKey::of(token)
                .map(TokenKey::to_token_string)
                .as_deref(),
            Some(token)
        );
        for other in [
            "0B6EC2E0-5C4F-4F3E-9A53-2F6D2D1F7C3A",
            "0b6ec2e0-5c4f-4f3e-9a53-2f6d2d1f7c3A",
            "0b6ec2e05c4f4f3e9a532f6d2d1f7c3a",
            "{0b6ec2e0-5c4f-4f3e-9a53-2f6d2d1f7c3a}",
            "urn:uuid:0b6ec2e0-5c4f-4f3e-9a53-2f6d2d1f7c3a",
            "0b6ec2e0-5c4f-4f3e-9a53-2f6d2d1f7c3g",
            "0b6ec2e0+5c4f+4f3e+9a53+2f6d2d1f7c3a",
            "not-a-token",
            "",
        ] {
            assert_eq!(TokenKey::of(other), None, "{other}");
        }
    }
}
