//! Values that can only be built valid ("parse, don't validate"). Each parser
//! enforces the constraint of the AWS model for its member and reports a
//! [`FieldViolation`] naming that member, so both transports give the same
//! answer for the same bad input.
//!
//! Every string value is also checked to be storable ([`storable`]): this is
//! the one place that keeps text the databases cannot hold from reaching a
//! statement, on either transport and either backend.

use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;

use super::FieldViolation;

fn length_between(
    member: &'static str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), FieldViolation> {
    let length = value.chars().count();
    if length < min {
        return Err(FieldViolation::invalid(
            member,
            value,
            format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if length > max {
        return Err(FieldViolation::invalid(
            member,
            value,
            format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn matches_pattern(
    member: &'static str,
    value: &str,
    regex: &Regex,
    pattern: &str,
) -> Result<(), FieldViolation> {
    if regex.is_match(value) {
        Ok(())
    } else {
        Err(FieldViolation::invalid(
            member,
            value,
            format!("Member must satisfy regular expression pattern: {pattern}"),
        ))
    }
}

/// Refuses text a database column cannot hold, naming the member. Postgres
/// `TEXT` (in a UTF-8 database, the only encoding statusgate creates or
/// expects) holds every Unicode scalar value except U+0000: the NUL byte is
/// refused with `invalid byte sequence for encoding "UTF8": 0x00`, and
/// inside a coalesced statement that error would fail the whole group.
/// Surrogates cannot occur in a Rust `String`. A JSON `"\u0000"` escape is
/// six ASCII characters of text and is stored as such (the columns are
/// `TEXT`, not `jsonb`, which would decode it). SQLite could store NUL, but
/// is refused the same for parity: a request valid on one backend is valid
/// on the other.
pub(crate) fn storable(member: &'static str, value: &str) -> Result<(), FieldViolation> {
    if !value.contains('\0') {
        return Ok(());
    }
    // Echo the value with the NUL escaped, so that no raw NUL reaches an
    // error message or a log line either.
    Err(FieldViolation::invalid(
        member,
        &value.replace('\0', "\\u0000"),
        "Member must not contain the NUL character (U+0000)",
    ))
}

/// Declares a `String` newtype whose `parse` checks length and, optionally, an
/// anchored regular expression taken verbatim from the AWS model.
macro_rules! constrained_string {
    ($(#[$meta:meta])* $name:ident, $member:literal, $min:literal..=$max:literal $(, pattern = $pattern:literal)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The AWS member this value travels in.
            pub const MEMBER: &'static str = $member;

            pub fn parse(value: impl Into<String>) -> Result<Self, FieldViolation> {
                let value = value.into();
                storable($member, &value)?;
                length_between($member, &value, $min, $max)?;
                $(
                    static REGEX: LazyLock<Regex> =
                        LazyLock::new(|| Regex::new(concat!("^(?:", $pattern, ")$")).expect("model pattern compiles"));
                    matches_pattern($member, &value, &REGEX, $pattern)?;
                )?
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(&self.0)
            }
        }
    };
}

constrained_string!(
    /// A WAF Classic change token.
    ChangeToken, "ChangeToken", 1..=128, pattern = r".*\S.*"
);
constrained_string!(
    /// A Cloud Control request token.
    RequestToken, "RequestToken", 1..=128, pattern = "[-A-Za-z0-9+/=]+"
);
constrained_string!(
    /// A caller-chosen idempotency token.
    ClientToken, "ClientToken", 1..=128, pattern = "[-A-Za-z0-9+/=]+"
);
constrained_string!(
    /// A CloudFormation resource type (`AWS::Logs::LogGroup`).
    TypeName, "TypeName", 10..=196, pattern = "[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}"
);
constrained_string!(
    /// A resource's primary identifier.
    Identifier, "Identifier", 1..=1024
);
constrained_string!(
    TypeVersionId,
    "TypeVersionId",
    1..=128,
    pattern = "[A-Za-z0-9-]+"
);
constrained_string!(
    RoleArn,
    "RoleArn",
    20..=2048,
    pattern = "arn:.+:iam::[0-9]{12}:role/.+"
);
constrained_string!(
    /// An opaque pagination cursor as sent over the wire.
    NextToken, "NextToken", 1..=2048, pattern = "[-A-Za-z0-9+/=]+"
);
constrained_string!(
    /// An AWS region name (`eu-west-1`).
    Region, "Region", 1..=64, pattern = "[a-z0-9-]+"
);
constrained_string!(
    /// A worker's human-readable progress note.
    StatusMessage, "StatusMessage", 0..=1024
);
constrained_string!(
    /// Free text recorded with a used change token.
    ChangeDescription, "ChangeDescription", 0..=4096
);

constrained_string!(
    /// Who claims requests: kept with a lease (a host name and process id,
    /// a pod name).
    WorkerId, "WorkerId", 1..=128, pattern = "[-A-Za-z0-9_.:@/]+"
);
constrained_string!(
    /// The proof that a worker holds a request's lease (a UUID, handed out
    /// by a claim).
    LeaseToken, "LeaseToken", 1..=64, pattern = "[-A-Za-z0-9]+"
);
constrained_string!(
    /// The start of the type names a worker handles (`AWS::S3::`).
    TypeNamePrefix, "TypeNamePrefix", 1..=196, pattern = "[A-Za-z0-9:]+"
);

/// A JSON document member (`DesiredState`, `PatchDocument`, `ResourceModel`):
/// 1..=262144 characters of valid JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonDocument(String);

impl JsonDocument {
    pub fn parse(member: &'static str, value: impl Into<String>) -> Result<Self, FieldViolation> {
        let value = value.into();
        storable(member, &value)?;
        length_between(member, &value, 1, 262_144)?;
        if serde_json::from_str::<serde::de::IgnoredAny>(&value).is_err() {
            return Err(FieldViolation::invalid(
                member,
                &value,
                "Member must be a valid JSON document",
            ));
        }
        Ok(Self(value))
    }

    /// A document the store wrote itself, after [`parse`](Self::parse)
    /// accepted it. Reading it back skips the check: re-parsing up to
    /// 256 KiB of JSON on every read would only confirm what was checked
    /// before it was written. Not for values from any other source.
    pub(crate) fn from_trusted_store(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub const MEMBER: &'static str = "AccountId";

    pub fn parse(value: impl Into<String>) -> Result<Self, FieldViolation> {
        let value = value.into();
        if value.len() == 12 && value.bytes().all(|byte| byte.is_ascii_digit()) {
            Ok(Self(value))
        } else {
            Err(FieldViolation::invalid(
                Self::MEMBER,
                &value,
                "Member must satisfy regular expression pattern: [0-9]{12}",
            ))
        }
    }

    /// The account of an empty wire value is the server's default account.
    pub fn parse_or_default(value: &str, default: &AccountId) -> Result<Self, FieldViolation> {
        if value.is_empty() {
            Ok(default.clone())
        } else {
            Self::parse(value)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for AccountId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// Page size for list operations: 1..=100, default 20 (AWS's), or a
/// listing's own default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxResults(u32);

impl MaxResults {
    pub const MEMBER: &'static str = "MaxResults";
    pub const DEFAULT: Self = Self(20);
    pub const LARGEST: Self = Self(100);

    pub fn parse(value: Option<i64>) -> Result<Self, FieldViolation> {
        Self::parse_or(value, Self::DEFAULT)
    }

    /// As [`parse`](Self::parse), with `default` for an absent value.
    pub fn parse_or(value: Option<i64>, default: Self) -> Result<Self, FieldViolation> {
        let Some(value) = value else {
            return Ok(default);
        };
        let text = value.to_string();
        if value < 1 {
            return Err(FieldViolation::invalid(
                Self::MEMBER,
                &text,
                "Member must have value greater than or equal to 1",
            ));
        }
        if value > 100 {
            return Err(FieldViolation::invalid(
                Self::MEMBER,
                &text,
                "Member must have value less than or equal to 100",
            ));
        }
        Ok(Self(value as u32))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// A duration member within `min..=max`, `default` when absent.
pub(crate) fn duration_within(
    member: &'static str,
    value: Option<Duration>,
    default: Duration,
    min: Duration,
    max: Duration,
) -> Result<Duration, FieldViolation> {
    let Some(value) = value else {
        return Ok(default);
    };
    let shown = humantime::format_duration(value).to_string();
    if value < min {
        return Err(FieldViolation::invalid(
            member,
            &shown,
            format!(
                "Member must have value greater than or equal to {}",
                humantime::format_duration(min)
            ),
        ));
    }
    if value > max {
        return Err(FieldViolation::invalid(
            member,
            &shown,
            format!(
                "Member must have value less than or equal to {}",
                humantime::format_duration(max)
            ),
        ));
    }
    Ok(value)
}

/// How long `WaitResourceRequest` (and `WaitOperation`) may wait: 0..=5
/// minutes, default 30 seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeout(Duration);

impl WaitTimeout {
    pub const MEMBER: &'static str = "Timeout";
    pub const DEFAULT: Duration = Duration::from_secs(30);
    pub const MAX: Duration = Duration::from_secs(5 * 60);

    pub fn parse(value: Option<Duration>) -> Result<Self, FieldViolation> {
        duration_within(
            Self::MEMBER,
            value,
            Self::DEFAULT,
            Duration::ZERO,
            Self::MAX,
        )
        .map(Self)
    }

    pub fn get(self) -> Duration {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_tokens_need_a_non_blank_character_and_at_most_128() {
        assert!(ChangeToken::parse("abcd12f2-46da-4fdb-b8d5-fbd4c466928f").is_ok());
        assert!(ChangeToken::parse(" x ").is_ok());
        for bad in ["", "   ", "\t\n", &"a".repeat(129)] {
            let violation = ChangeToken::parse(bad).unwrap_err();
            assert_eq!(violation.member, "ChangeToken");
        }
    }

    #[test]
    fn request_and_client_tokens_follow_the_model_pattern() {
        for good in ["b4a1cc5a-a2ae-4dec-9e1e-150123456789", "abc+/=", "A"] {
            assert!(RequestToken::parse(good).is_ok(), "{good}");
            assert!(ClientToken::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "abc_def", "ü", &"a".repeat(129)] {
            assert!(RequestToken::parse(bad).is_err(), "{bad}");
            assert!(ClientToken::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn type_names_have_three_parts() {
        assert!(TypeName::parse("AWS::Logs::LogGroup").is_ok());
        let cases = [
            (
                "AWS::Logs",
                "Member must have length greater than or equal to 10",
            ),
            (
                "AWS::Logs::Log-Group",
                "Member must satisfy regular expression pattern",
            ),
            (
                "AWS::Logs::LogGroup::X",
                "Member must satisfy regular expression pattern",
            ),
        ];
        for (bad, constraint) in cases {
            let violation = TypeName::parse(bad).unwrap_err();
            assert!(
                violation.constraint.starts_with(constraint),
                "{bad}: {}",
                violation.constraint
            );
        }
    }

    #[test]
    fn role_arns_and_type_versions_follow_the_model() {
        assert!(RoleArn::parse("arn:aws:iam::123456789012:role/deployer").is_ok());
        assert!(RoleArn::parse("arn:aws:iam::12345:role/deployer").is_err());
        assert!(TypeVersionId::parse("00000001").is_ok());
        assert!(TypeVersionId::parse("v1.0").is_err());
    }

    #[test]
    fn json_documents_must_parse_and_fit() {
        assert!(JsonDocument::parse("DesiredState", r#"{"LogGroupName":"x"}"#).is_ok());
        assert!(JsonDocument::parse("PatchDocument", r#"[{"op":"remove","path":"/a"}]"#).is_ok());
        assert_eq!(
            JsonDocument::parse("DesiredState", "{not json")
                .unwrap_err()
                .constraint,
            "Member must be a valid JSON document"
        );
        assert!(JsonDocument::parse("DesiredState", "").is_err());
        let huge = format!("\"{}\"", "a".repeat(262_144));
        assert!(JsonDocument::parse("DesiredState", huge).is_err());
    }

    #[test]
    fn nul_is_refused_in_every_string_member_and_named() {
        let with_nul = "a\0b";
        let violations = [
            ChangeToken::parse(with_nul).unwrap_err(),
            Identifier::parse(with_nul).unwrap_err(),
            RoleArn::parse(format!("arn:aws:iam::123456789012:role/{with_nul}")).unwrap_err(),
            StatusMessage::parse(with_nul).unwrap_err(),
            ChangeDescription::parse(with_nul).unwrap_err(),
            JsonDocument::parse("DesiredState", "{\"a\":\"\0\"}").unwrap_err(),
        ];
        let members: Vec<&str> = violations
            .iter()
            .map(|violation| violation.member)
            .collect();
        assert_eq!(
            members,
            [
                "ChangeToken",
                "Identifier",
                "RoleArn",
                "StatusMessage",
                "ChangeDescription",
                "DesiredState"
            ]
        );
        for violation in &violations {
            assert_eq!(
                violation.constraint,
                "Member must not contain the NUL character (U+0000)"
            );
            assert!(!violation.value.as_deref().unwrap().contains('\0'));
        }
        assert_eq!(violations[1].value.as_deref(), Some("a\\u0000b"));
    }

    #[test]
    fn a_json_nul_escape_is_plain_text_and_storable() {
        let document = JsonDocument::parse("DesiredState", r#"{"Name":"a\u0000b"}"#).unwrap();
        assert_eq!(document.as_str().len(), 19);
        assert!(!document.as_str().contains('\0'));
        // Other control characters and non-BMP text are storable.
        assert!(StatusMessage::parse("line\none \u{1F600} \u{7f}").is_ok());
    }

    #[test]
    fn accounts_are_twelve_digits_and_empty_means_default() {
        let default = AccountId::parse("000000000000").unwrap();
        assert_eq!(AccountId::parse_or_default("", &default).unwrap(), default);
        assert_eq!(
            AccountId::parse_or_default("123456789012", &default)
                .unwrap()
                .as_str(),
            "123456789012"
        );
        for bad in ["12345678901", "1234567890123", "12345678901a"] {
            assert!(AccountId::parse_or_default(bad, &default).is_err(), "{bad}");
        }
    }

    #[test]
    fn wait_timeouts_default_to_30s_and_stay_within_5_minutes() {
        assert_eq!(
            WaitTimeout::parse(None).unwrap().get(),
            WaitTimeout::DEFAULT
        );
        assert_eq!(
            WaitTimeout::parse(Some(Duration::ZERO)).unwrap().get(),
            Duration::ZERO
        );
        assert_eq!(
            WaitTimeout::parse(Some(WaitTimeout::MAX)).unwrap().get(),
            WaitTimeout::MAX
        );
        let too_long = WaitTimeout::parse(Some(Duration::from_secs(301))).unwrap_err();
        assert_eq!(too_long.member, "Timeout");
        assert_eq!(too_long.value.as_deref(), Some("5m 1s"));
        assert_eq!(
            too_long.constraint,
            "Member must have value less than or equal to 5m"
        );
    }

    #[test]
    fn worker_ids_lease_tokens_and_prefixes_follow_their_patterns() {
        for good in ["worker-1", "host.example:4242", "pod/ns@node_2"] {
            assert!(WorkerId::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "ü", &"w".repeat(129)] {
            assert!(WorkerId::parse(bad).is_err(), "{bad}");
        }
        assert!(LeaseToken::parse("6f1c2a3e-0b7d-4c8e-9f10-112233445566").is_ok());
        assert!(LeaseToken::parse("not a token").is_err());
        assert!(TypeNamePrefix::parse("AWS::S3::").is_ok());
        assert!(TypeNamePrefix::parse("AWS::S3::%").is_err());
        assert!(TypeNamePrefix::parse("").is_err());
    }

    #[test]
    fn max_results_defaults_to_20_and_stays_within_1_to_100() {
        assert_eq!(MaxResults::parse(None).unwrap().get(), 20);
        assert_eq!(MaxResults::parse(Some(1)).unwrap().get(), 1);
        assert_eq!(
            MaxResults::parse_or(None, MaxResults::LARGEST)
                .unwrap()
                .get(),
            100
        );
        assert!(MaxResults::parse_or(Some(101), MaxResults::LARGEST).is_err());
        assert_eq!(MaxResults::parse(Some(100)).unwrap().get(), 100);
        assert!(MaxResults::parse(Some(0)).is_err());
        assert!(MaxResults::parse(Some(101)).is_err());
        assert!(MaxResults::parse(Some(-5)).is_err());
    }
}
