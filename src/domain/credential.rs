//! Credentials and the callers they make: the values a credential is built
//! from ([`AccessKeyId`], [`SecretAccessKey`], [`Role`], [`AccountBinding`]),
//! the stored record ([`Credential`]), and the authenticated caller of one
//! request ([`Principal`]), which decides the account a request acts on.
//!
//! What a role may call is the table in `domain/permission.rs`; how
//! secrets are generated and sealed at rest is `service/credentials.rs` and
//! `service/secret_box.rs`. Nothing here does I/O.

use std::fmt;

use super::time::Timestamp;
use super::values::AccountId;

/// The prefix of every access key id statusgate issues. Real AWS keys start
/// with `AKIA` (long-term) or `ASIA` (temporary); `SGAK` cannot be mistaken
/// for either, so a leaked statusgate key is never taken for an AWS one.
pub const ACCESS_KEY_PREFIX: &str = "SGAK";

/// The length of an issued access key id, as AWS's.
pub const ACCESS_KEY_ID_LENGTH: usize = 20;

/// The length of an issued secret access key, as AWS's.
pub const SECRET_ACCESS_KEY_LENGTH: usize = 40;

/// Why a credential value does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialValueError {
    #[error("access key id {0:?} is not of the form SGAK followed by 16 of A-Z and 2-7")]
    AccessKeyId(String),
    #[error("role {0:?} is not one of client, worker, admin")]
    Role(String),
    #[error("a client credential must be bound to one account")]
    ClientOfAllAccounts,
}

/// An access key id statusgate issued: `SGAK` and 16 base32 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccessKeyId(String);

impl AccessKeyId {
    pub fn parse(value: &str) -> Result<Self, CredentialValueError> {
        let well_formed = value.len() == ACCESS_KEY_ID_LENGTH
            && value.starts_with(ACCESS_KEY_PREFIX)
            && value[ACCESS_KEY_PREFIX.len()..]
                .bytes()
                .all(|byte| byte.is_ascii_uppercase() || (b'2'..=b'7').contains(&byte));
        if well_formed {
            Ok(Self(value.to_owned()))
        } else {
            Err(CredentialValueError::AccessKeyId(value.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccessKeyId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A secret access key. Its `Debug` never shows it, so it cannot leak into
/// a log line by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretAccessKey(String);

impl SecretAccessKey {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretAccessKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SecretAccessKey(<redacted>)")
    }
}

/// What a credential may do, each role including the one before it:
/// `client` calls what an AWS caller calls, `worker` also records what the
/// control plane does, `admin` also manages credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    Client,
    Worker,
    Admin,
}

impl Role {
    pub const ALL: [Self; 3] = [Self::Client, Self::Worker, Self::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Worker => "worker",
            Self::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Result<Self, CredentialValueError> {
        Self::ALL
            .into_iter()
            .find(|role| role.as_str() == value)
            .ok_or_else(|| CredentialValueError::Role(value.to_owned()))
    }

    /// Whether this role includes `required` (roles are ordered).
    pub fn includes(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Whose data a credential acts on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccountBinding {
    /// One account: every request acts on it, and naming another is denied.
    Account(AccountId),
    /// Every account: for a control plane (worker) or an operator (admin)
    /// that serves every tenant. A request names the account it acts on.
    AllAccounts,
}

impl AccountBinding {
    /// The binding as stored and printed: the account id, or `None` for all.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Self::Account(account) => Some(account),
            Self::AllAccounts => None,
        }
    }
}

/// Checks that a role may have a binding: a client acts as one AWS account
/// (the facade has no way to name another), so it must be bound to one.
pub fn check_binding(role: Role, binding: &AccountBinding) -> Result<(), CredentialValueError> {
    match (role, binding) {
        (Role::Client, AccountBinding::AllAccounts) => {
            Err(CredentialValueError::ClientOfAllAccounts)
        }
        _ => Ok(()),
    }
}

/// A credential as statusgate keeps it, the secret in the clear (it lives
/// only in memory; at rest it is sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: AccessKeyId,
    pub secret_access_key: SecretAccessKey,
    pub binding: AccountBinding,
    pub role: Role,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl Credential {
    /// The caller this credential makes.
    pub fn principal(&self) -> Principal {
        Principal {
            access_key_id: self.access_key_id.clone(),
            role: self.role,
            binding: self.binding.clone(),
        }
    }
}

/// A credential without its secret: what listing shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSummary {
    pub access_key_id: AccessKeyId,
    pub binding: AccountBinding,
    pub role: Role,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Why a principal may not act on the account a request names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "credential {access_key_id} is bound to account {bound}; it may not act on account {requested}"
)]
pub struct OtherAccountDenied {
    pub access_key_id: AccessKeyId,
    pub bound: AccountId,
    pub requested: AccountId,
}

/// The authenticated caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key_id: AccessKeyId,
    pub role: Role,
    pub binding: AccountBinding,
}

impl Principal {
    /// The account of a request that names none.
    pub fn own_account(&self, default: &AccountId) -> AccountId {
        match &self.binding {
            AccountBinding::Account(bound) => bound.clone(),
            AccountBinding::AllAccounts => default.clone(),
        }
    }

    /// The account a request acts on. A bound principal acts on its account:
    /// naming none means it, naming another is denied. An all-accounts
    /// principal acts on the account named, or `default` when none is.
    pub fn account(
        &self,
        requested: Option<AccountId>,
        default: &AccountId,
    ) -> Result<AccountId, OtherAccountDenied> {
        match (&self.binding, requested) {
            (_, None) => Ok(self.own_account(default)),
            (AccountBinding::Account(bound), Some(requested)) if &requested == bound => {
                Ok(requested)
            }
            (AccountBinding::Account(bound), Some(requested)) => Err(OtherAccountDenied {
                access_key_id: self.access_key_id.clone(),
                bound: bound.clone(),
                requested,
            }),
            (AccountBinding::AllAccounts, Some(requested)) => Ok(requested),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(id: &str) -> AccountId {
        AccountId::parse(id).unwrap()
    }

    #[test]
    fn access_key_ids_are_sgak_and_sixteen_base32_characters() {
        assert!(AccessKeyId::parse("SGAKABCDEFGHIJ234567").is_ok());
        for invalid in [
            "",
            "AKIAIOSFODNN7EXAMPLE",
            "SGAKABCDEFGHIJ23456",
            "SGAKABCDEFGHIJ2345678",
            "SGAKabcdefghij234567",
            "SGAKABCDEFGHIJ234568",
            "123456789012",
        ] {
            assert!(AccessKeyId::parse(invalid).is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn roles_parse_order_and_include_the_lower_ones() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Ok(role));
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::Admin.includes(Role::Worker));
        assert!(Role::Worker.includes(Role::Client));
        assert!(!Role::Client.includes(Role::Worker));
        assert!(!Role::Worker.includes(Role::Admin));
    }

    #[test]
    fn clients_are_bound_to_one_account() {
        assert!(check_binding(Role::Client, &AccountBinding::AllAccounts).is_err());
        assert!(check_binding(Role::Worker, &AccountBinding::AllAccounts).is_ok());
        assert!(check_binding(Role::Admin, &AccountBinding::AllAccounts).is_ok());
        assert!(
            check_binding(
                Role::Client,
                &AccountBinding::Account(account("123456789012"))
            )
            .is_ok()
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let secret = SecretAccessKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into());
        assert!(!format!("{secret:?}").contains("wJalr"));
    }

    #[test]
    fn the_account_comes_from_the_binding() {
        let default = account("000000000000");
        let bound = Principal {
            access_key_id: AccessKeyId::parse("SGAKABCDEFGHIJ234567").unwrap(),
            role: Role::Worker,
            binding: AccountBinding::Account(account("123456789012")),
        };
        assert_eq!(bound.account(None, &default), Ok(account("123456789012")));
        assert_eq!(
            bound.account(Some(account("123456789012")), &default),
            Ok(account("123456789012"))
        );
        assert!(
            bound
                .account(Some(account("210987654321")), &default)
                .is_err()
        );
        let all = Principal {
            binding: AccountBinding::AllAccounts,
            ..bound
        };
        assert_eq!(all.account(None, &default), Ok(default.clone()));
        assert_eq!(
            all.account(Some(account("210987654321")), &default),
            Ok(account("210987654321"))
        );
    }
}
